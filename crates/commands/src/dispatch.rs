//! The dispatch pipeline: every generic check runs here once, before any handler —
//! lookup, subcommand resolution, authentication, arity — then the shards that hold the
//! command's keys are locked (from the spec's key positions) and the handler runs.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use engine::Locked;
use resp::ReplyWriter;

use crate::client::{Client, LocalCmdStat, ReplyMode};
use crate::ctx::Ctx;
use crate::errors;
use crate::instance::{unix_ms, Instance};
use crate::registry::registry;
use crate::spec::{flags, CommandSpec};

/// Resolves `argv` to a command id, or writes the error and returns None.
fn resolve(
    inst: &Instance,
    client: &mut Client,
    out: &mut ReplyWriter,
    argv: &[&[u8]],
) -> Option<u32> {
    let reg = registry();
    let fail = |out: &mut ReplyWriter, client: &mut Client, msg: &[u8]| {
        inst.stats
            .record_error(&String::from_utf8_lossy(&msg[..msg.len().min(16)]));
        client.last_command_failed = true;
        out.error_bytes(msg);
    };
    let Some(id) = reg.lookup(argv[0]) else {
        // Redis answers NOAUTH before "unknown command" for unauthenticated clients.
        if !client.authenticated {
            fail(out, client, errors::NOAUTH.as_bytes());
        } else {
            fail(out, client, &errors::unknown_command(argv));
        }
        return None;
    };
    let spec = reg.spec(id);
    // A command with both a handler and subcommands (COMMAND) runs its own handler
    // only when called bare; with arguments the first one names a subcommand, as in
    // Redis's lookupCommand.
    if spec.handler.is_some() && (argv.len() < 2 || reg.subcommands(id).is_empty()) {
        return Some(id);
    }
    // A container: the subcommand does the work.
    if !client.authenticated && !spec.has(flags::NO_AUTH) {
        fail(out, client, errors::NOAUTH.as_bytes());
        return None;
    }
    if argv.len() < 2 {
        fail(out, client, errors::wrong_arity(spec.name).as_bytes());
        return None;
    }
    match reg.lookup_sub(id, argv[1]) {
        Some(sub) => Some(sub),
        None => {
            fail(out, client, &errors::unknown_subcommand(argv[0], argv[1]));
            None
        }
    }
}

/// Runs one command. Replies go to `out`.
pub fn dispatch(inst: &Instance, client: &mut Client, out: &mut ReplyWriter, argv: &[&[u8]]) {
    if argv.is_empty() {
        return;
    }
    client.last_command_failed = false;
    let mark = out.len();
    // CLIENT REPLY OFF/SKIP: the reply is produced, then dropped. A command that turns
    // replies back on (CLIENT REPLY ON) keeps its own reply.
    let mode_before = client.reply_mode;
    if mode_before == ReplyMode::SkipNext {
        client.reply_mode = ReplyMode::Skipping;
    }
    let skipping = mode_before != ReplyMode::On;
    let Some(id) = resolve(inst, client, out, argv) else {
        finish_reply(client, out, mark, skipping);
        return;
    };
    let spec = registry().spec(id);
    if let Some(msg) = check(inst, client, spec, argv) {
        inst.stats.record_error(&msg);
        client.last_command_failed = true;
        out.error(&msg);
        record(client, id, 0, true);
        finish_reply(client, out, mark, skipping);
        return;
    }
    client.info.last_cmd.store(id, Relaxed);
    let mut locked = lock_for(inst, spec, argv);
    let started = Instant::now();
    run(inst, client, out, &mut locked, spec, argv);
    drop(locked);
    let usec = started.elapsed().as_micros() as u64;
    if spec.has(flags::WRITE) && !client.last_command_failed {
        client.dirty += 1;
    }
    record(client, id, usec, false);
    finish_reply(client, out, mark, skipping);
}

/// Generic checks that need the resolved spec.
fn check(inst: &Instance, client: &Client, spec: &CommandSpec, argv: &[&[u8]]) -> Option<String> {
    if !client.authenticated && !spec.has(flags::NO_AUTH) {
        return Some(errors::NOAUTH.to_string());
    }
    if !spec.arity_ok(argv.len()) {
        return Some(errors::wrong_arity(spec.name));
    }
    // Persistence is failing: refuse writes rather than acknowledge what may be lost.
    if spec.has(flags::WRITE) && inst.writes_refused.load(Relaxed) {
        return Some(errors::MISCONF.to_string());
    }
    None
}

/// Locks the shards a command needs, from its spec.
pub fn lock_for<'k>(inst: &'k Instance, spec: &CommandSpec, argv: &[&[u8]]) -> Locked<'k> {
    if spec.has(flags::ALL_SHARDS) {
        return inst.ks.lock_all();
    }
    // The common shapes (one key; first/last/step) need no allocation.
    if spec.key_finder.is_none() {
        return match spec.key_range(argv.len()) {
            None => inst.ks.lock_none(),
            Some((first, last, step)) if first + step > last => inst.ks.lock_key(argv[first]),
            Some((first, last, step)) => {
                inst.ks.lock((first..=last).step_by(step).map(|i| argv[i]))
            }
        };
    }
    match spec.key_positions(argv) {
        None => inst.ks.lock_all(),
        Some(pos) => match pos.as_slice() {
            [] => inst.ks.lock_none(),
            [i] => inst.ks.lock_key(argv[*i]),
            many => inst.ks.lock(many.iter().map(|&i| argv[i])),
        },
    }
}

/// Runs a resolved, checked command with shards already locked (used by dispatch and,
/// later, by EXEC and scripts that hold every shard).
pub fn run(
    inst: &Instance,
    client: &mut Client,
    out: &mut ReplyWriter,
    locked: &mut Locked<'_>,
    spec: &CommandSpec,
    argv: &[&[u8]],
) {
    let Some(handler) = spec.handler else {
        return;
    };
    let mut ctx = Ctx {
        inst,
        client,
        out,
        ks: locked,
        now_ms: unix_ms(),
    };
    handler(&mut ctx, argv);
}

fn record(client: &mut Client, id: u32, usec: u64, rejected: bool) {
    let failed = client.last_command_failed && !rejected;
    let slot = match client.cmd_stats.iter_mut().find(|(i, _)| *i == id) {
        Some((_, s)) => s,
        None => {
            client.cmd_stats.push((id, LocalCmdStat::default()));
            match client.cmd_stats.last_mut() {
                Some((_, s)) => s,
                None => return,
            }
        }
    };
    if rejected {
        slot.rejected += 1;
    } else {
        slot.calls += 1;
        slot.usec += usec;
        if failed {
            slot.failed += 1;
        }
    }
}

fn finish_reply(client: &mut Client, out: &mut ReplyWriter, mark: usize, skipping: bool) {
    if !skipping {
        return;
    }
    match client.reply_mode {
        // Turned back on by this very command: its reply goes out.
        ReplyMode::On => {}
        ReplyMode::Skipping => {
            out.truncate(mark);
            client.reply_mode = ReplyMode::On;
        }
        ReplyMode::Off | ReplyMode::SkipNext => out.truncate(mark),
    }
}

/// Moves a connection's local counters into the instance's shared ones. The connection
/// calls this once per batch of commands.
pub fn flush_stats(inst: &Instance, client: &mut Client) {
    let mut total = 0;
    for (id, s) in client.cmd_stats.drain(..) {
        if let Some(c) = inst.cmd_stats.get(id as usize) {
            c.calls.fetch_add(s.calls, Relaxed);
            c.usec.fetch_add(s.usec, Relaxed);
            c.failed.fetch_add(s.failed, Relaxed);
            c.rejected.fetch_add(s.rejected, Relaxed);
        }
        total += s.calls + s.rejected;
    }
    inst.stats
        .total_commands_processed
        .fetch_add(total, Relaxed);
    if client.dirty > 0 {
        inst.dirty
            .fetch_add(std::mem::take(&mut client.dirty), Relaxed);
    }
}
