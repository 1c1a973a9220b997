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
use crate::instance::{unix_ms, Instance, LimitState};
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
    dispatch_one(inst, client, out, argv);
    // Client-side caching: what waits for the reply to be written (two local loads
    // when this client does not track).
    if client.tracking_due {
        client.tracking_due = false;
        crate::tracking::after_command(inst, client.info.id, out);
    }
    // CLIENT CACHING applies to the next command, or to the whole transaction.
    if client.tracking_caching
        && client.multi.is_none()
        && !crate::families::util::eq_ic(argv[0], b"client")
    {
        client.tracking_caching = false;
    }
}

fn dispatch_one(inst: &Instance, client: &mut Client, out: &mut ReplyWriter, argv: &[&[u8]]) {
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
        // Inside MULTI, a command refused by the generic checks fails the transaction.
        crate::multi::flag(client);
        finish_reply(client, out, mark, skipping);
        return;
    };
    let spec = registry().spec(id);
    let in_multi = client.multi.is_some();
    // A script is running: wait for it, or answer BUSY once it has run too long.
    // Before any lock is taken (the script holds every shard).
    if let Some(busy) = crate::scripts::busy_check(inst, spec.has(flags::ALLOW_BUSY)) {
        inst.stats.record_error(busy);
        client.last_command_failed = true;
        out.error(busy);
        record(client, id, 0, true);
        crate::multi::flag(client);
        finish_reply(client, out, mark, skipping);
        return;
    }
    // Then memory and key limits: evict if over maxmemory, refuse commands that may
    // add data when that fails or when maxkeys is reached. This runs before the
    // command's shards are locked, because eviction locks shards itself. Inside MULTI
    // queuing takes memory: any command but EXEC/DISCARD/QUIT/RESET is refused when
    // memory is over the limit.
    if let Some(msg) = check(inst, client, id, spec, argv).or_else(|| {
        if in_multi && !crate::multi::exempt_from_oom_in_multi(spec) {
            check_limits_in_multi(inst, spec)
        } else {
            check_limits(inst, spec)
        }
    }) {
        // A refused EXEC discards the transaction, and says why.
        let msg = if spec.name == "exec" {
            crate::multi::discard(inst, client);
            errors::exec_discarded_because(msg.strip_prefix("ERR ").unwrap_or(&msg))
        } else {
            msg
        };
        inst.stats.record_error(&msg);
        client.last_command_failed = true;
        out.error(&msg);
        record(client, id, 0, true);
        crate::multi::flag(client);
        finish_reply(client, out, mark, skipping);
        return;
    }
    // A RESP2 client in subscribed mode may only (un)subscribe, PING, QUIT and RESET.
    if client.subs.is_some()
        && !out.is_resp3()
        && crate::pubsub::subscribed(client)
        && !allowed_in_pubsub_context(spec)
    {
        let msg = errors::pubsub_context(spec.name);
        inst.stats.record_error(&msg);
        client.last_command_failed = true;
        out.error(&msg);
        record(client, id, 0, true);
        crate::multi::flag(client);
        finish_reply(client, out, mark, skipping);
        return;
    }
    client.info.last_cmd.store(id, Relaxed);
    if in_multi && !crate::multi::runs_in_multi(spec) {
        crate::multi::queue(client, id, spec, argv);
        out.simple("QUEUED");
        finish_reply(client, out, mark, skipping);
        return;
    }
    if spec.name == "exec" {
        // EXEC takes its own locks (those of the queued commands).
        let started = Instant::now();
        let outcome = crate::multi::exec(inst, client, out);
        let usec = started.elapsed().as_micros() as u64;
        if !client.ready_keys.is_empty() {
            crate::blocking::serve_ready(inst, &mut client.ready_keys);
        }
        match outcome {
            crate::multi::ExecOutcome::Ran => {
                record(client, id, usec, false);
                crate::diag::after_command(inst, client, id, spec, argv, usec);
            }
            crate::multi::ExecOutcome::Failed => {
                client.last_command_failed = true;
                record(client, id, usec, false);
                crate::diag::after_command(inst, client, id, spec, argv, usec);
            }
            crate::multi::ExecOutcome::Rejected => {
                client.last_command_failed = true;
                record(client, id, 0, true);
            }
        }
        finish_reply(client, out, mark, skipping);
        return;
    }
    let mut locked = lock_for(inst, spec, argv);
    let started = Instant::now();
    run(inst, client, out, &mut locked, spec, argv);
    drop(locked);
    let usec = started.elapsed().as_micros() as u64;
    if !client.ready_keys.is_empty() {
        crate::blocking::serve_ready(inst, &mut client.ready_keys);
    }
    if spec.has(flags::WRITE) && !client.last_command_failed {
        client.dirty += 1;
    }
    record(client, id, usec, false);
    crate::diag::after_command(inst, client, id, spec, argv, usec);
    finish_reply(client, out, mark, skipping);
}

/// The commands a RESP2 client may run while subscribed, as Redis's processCommand
/// lists them.
fn allowed_in_pubsub_context(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

/// Generic checks that need the resolved spec.
fn check(
    inst: &Instance,
    client: &mut Client,
    id: u32,
    spec: &CommandSpec,
    argv: &[&[u8]],
) -> Option<String> {
    if !client.authenticated && !spec.has(flags::NO_AUTH) {
        return Some(errors::NOAUTH.to_string());
    }
    if !spec.arity_ok(argv.len()) {
        return Some(errors::wrong_arity(spec.name));
    }
    if client.multi.is_some() && spec.has(flags::NO_MULTI) {
        return Some(errors::NOT_IN_MULTI.to_string());
    }
    // ACL: one epoch compare and a None test for an unrestricted user.
    if let Some(msg) = crate::acl::check(inst, client, id, spec, argv) {
        return Some(msg);
    }
    // Persistence is failing: refuse writes rather than acknowledge what may be lost.
    if spec.has(flags::WRITE) && inst.writes_refused.load(Relaxed) {
        return Some(errors::MISCONF.to_string());
    }
    None
}

/// The error a command gets for being over the memory or key limit, if any.
#[inline]
fn check_limits(inst: &Instance, spec: &CommandSpec) -> Option<String> {
    let limits = &inst.limits;
    if limits.maxmemory() == 0 && limits.maxkeys() == 0 {
        return None;
    }
    match inst.check_limits(spec.has(flags::DENYOOM)) {
        LimitState::Ok => None,
        LimitState::OutOfMemory => Some(errors::OOM.to_string()),
        LimitState::TooManyKeys(max) => Some(errors::maxkeys_reached(max)),
    }
}

/// The limit check for a command queued inside MULTI: over maxmemory refuses any
/// command (queuing takes memory), maxkeys only those that may add keys.
fn check_limits_in_multi(inst: &Instance, spec: &CommandSpec) -> Option<String> {
    let limits = &inst.limits;
    if limits.maxmemory() == 0 && limits.maxkeys() == 0 {
        return None;
    }
    if limits.maxmemory() != 0 && !inst.evict_to_limit() {
        return Some(errors::OOM.to_string());
    }
    check_limits(inst, spec)
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
    let now_ms = unix_ms();
    // Someone WATCHes: note which of this write's keys are watched, and how they were.
    let watched = if spec.has(flags::WRITE) && inst.watches.any() {
        Some(crate::multi::before_write(
            inst, client.db, locked, spec, argv, now_ms,
        ))
    } else {
        None
    };
    let mut ctx = Ctx {
        inst,
        client,
        out,
        ks: locked,
        now_ms,
        access: inst.access_clock(now_ms),
        argv,
    };
    handler(&mut ctx, argv);
    // Keys the engine expired or evicted on its own during the command, for keyspace
    // notifications (one relaxed load when they are off).
    // Client-side caching rides on the same load: tracking keeps the engine's
    // recording on while some client tracks.
    if inst.ks.events.enabled() {
        let me = crate::pubsub::own_outbox(client).cloned();
        crate::pubsub::engine_events(inst, me.as_ref(), client.info.id, out);
        if inst.notify_flags() & crate::tracking::ACTIVE != 0 {
            crate::tracking::after_run(inst, client, spec, argv, out);
        }
    }
    if let Some(keys) = watched {
        if !keys.is_empty() {
            let failed = client.last_command_failed;
            crate::multi::after_write(inst, failed, locked, keys, now_ms);
        }
    }
    crate::blocking::note_write(inst, client, spec, argv);
}

pub(crate) fn record(client: &mut Client, id: u32, usec: u64, rejected: bool) {
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
    if !client.latency_samples.is_empty() {
        crate::diag::flush_samples(inst, client);
    }
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

#[cfg(test)]
mod tests {
    use crate::families::util::testkit::Kit;
    use crate::instance::LimitState;

    const OK: &str = "+OK\r\n";
    const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

    fn info_field(k: &mut Kit, section: &str, name: &str) -> u64 {
        let text = k.run(&format!("info {section}"));
        let prefix = format!("{name}:");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    }

    fn tenant() -> Kit {
        let k = Kit::new();
        k.inst.update_config(|c| c.tenant = true);
        k
    }

    #[test]
    fn noeviction_refuses_denyoom_commands_only() {
        let mut k = tenant();
        for i in 0..100 {
            assert_eq!(k.run(&format!("set k{i} {}", "v".repeat(100))), OK);
        }
        let used = k.inst.ks.used_memory();
        assert_eq!(info_field(&mut k, "memory", "used_memory"), used);
        assert_eq!(k.run("config set maxmemory 1000"), OK);
        assert_eq!(info_field(&mut k, "memory", "maxmemory"), 1000);
        assert_eq!(k.run("set x 1"), OOM);
        assert_eq!(k.run("append k1 x"), OOM);
        // Reads and deletions still work.
        assert!(k.run("get k1").starts_with("$100"));
        assert_eq!(k.run("del k1 k2"), ":2\r\n");
        assert_eq!(k.run("expire k3 100"), ":1\r\n");
        assert!(k.run("info errorstats").contains("errorstat_OOM:count=2"));
        assert!(k
            .run("info commandstats")
            .contains("cmdstat_set:calls=100,"));
        assert!(k
            .run("info commandstats")
            .contains("rejected_calls=1,failed_calls=0"));
        assert_eq!(k.run("config set maxmemory 0"), OK);
        assert_eq!(k.run("set x 1"), OK);
        assert_eq!(info_field(&mut k, "stats", "evicted_keys"), 0);
    }

    #[test]
    fn allkeys_policies_evict_down_to_the_limit() {
        for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
            let mut k = tenant();
            assert_eq!(k.run(&format!("config set maxmemory-policy {policy}")), OK);
            assert_eq!(k.run("config set maxmemory 50kb"), OK);
            for i in 0..2000 {
                assert_eq!(
                    k.run(&format!("set k{i} {}", "v".repeat(100))),
                    OK,
                    "{policy}"
                );
                assert!(
                    k.inst.ks.used_memory() <= 50 * 1024 + 400,
                    "{policy} at {i}"
                );
            }
            let evicted = info_field(&mut k, "stats", "evicted_keys");
            let keys = k.inst.ks.key_count();
            assert!(evicted > 1000, "{policy}: {evicted} evicted");
            assert_eq!(evicted + keys, 2000, "{policy}");
            k.inst.ks.check_accounting();
            // Lowering the limit evicts on the next command, whatever it is (with no time
            // limit on one pass, so that it finishes within the command).
            assert_eq!(k.run("config set maxmemory-eviction-tenacity 100"), OK);
            assert_eq!(k.run("config set maxmemory 10kb"), OK);
            k.run("ping");
            assert!(k.inst.ks.used_memory() <= 10 * 1024, "{policy}");
        }
    }

    #[test]
    fn volatile_policies_fail_without_volatile_keys() {
        for policy in [
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ] {
            let mut k = tenant();
            for i in 0..50 {
                k.run(&format!("set p{i} {}", "v".repeat(100)));
                k.run(&format!("set t{i} {} ex {}", "v".repeat(100), 1000 + i));
            }
            assert_eq!(k.run(&format!("config set maxmemory-policy {policy}")), OK);
            let half = k.inst.ks.used_memory() / 2 + 500;
            assert_eq!(k.run(&format!("config set maxmemory {half}")), OK);
            // Volatile keys go first; once they are gone nothing more can be evicted.
            assert_eq!(k.run("get p0").len(), 108, "{policy}");
            assert_eq!(k.run("set more x"), OK, "{policy}");
            assert_eq!(k.run("config set maxmemory 100"), OK);
            assert_eq!(k.run("set more2 x"), OOM, "{policy}");
            assert_eq!(k.run("dbsize"), ":51\r\n", "{policy}: persistent keys stay");
        }
    }

    #[test]
    fn maxkeys_refuses_denyoom_commands_at_the_limit() {
        let mut k = Kit::new();
        assert_eq!(k.run("config set maxkeys 3"), OK);
        assert_eq!(
            k.run("config get maxkeys"),
            "*2\r\n$7\r\nmaxkeys\r\n$1\r\n3\r\n"
        );
        assert_eq!(k.run("mset a 1 b 2 c 3"), OK);
        let refused = "-ERR command not allowed when the number of keys >= 'maxkeys' (3)\r\n";
        assert_eq!(k.run("set d 4"), refused);
        assert_eq!(k.run("incr a"), refused, "denyoom even for an existing key");
        assert_eq!(k.run("get a"), "$1\r\n1\r\n");
        assert_eq!(k.run("expire a 100"), ":1\r\n");
        assert_eq!(k.run("unlink b"), ":1\r\n");
        assert_eq!(k.run("set d 4"), OK);
        assert_eq!(k.inst.check_limits(true), LimitState::TooManyKeys(3));
        assert_eq!(k.run("config set maxkeys 0"), OK);
        assert_eq!(k.run("set e 5"), OK);
    }

    /// Every string and key command keeps the keyspace's counters equal to a recount.
    #[test]
    fn handlers_keep_the_accounting_exact() {
        let mut k = tenant();
        let long = "x".repeat(300);
        let script = [
            "set a 1".to_string(),
            "append a 2345678901234567890".into(),
            "incr n".into(),
            "incrby n 100".into(),
            "append n abc".into(),
            format!("set s {long}"),
            "setrange s 500 tail".into(),
            "setrange fresh 10 x".into(),
            "incrbyfloat f 1.5".into(),
            "incrbyfloat s2 2".into(),
            "getset a short".into(),
            format!("set a {long} keepttl"),
            "set a 7".into(),
            "getex a px 50".into(),
            "mset m1 1 m2 two m3 three".into(),
            "msetnx m4 1 m5 2".into(),
            "copy s s3".into(),
            "copy s s3 db 2".into(),
            "rename s3 s4".into(),
            "move s4 3".into(),
            "getdel m1".into(),
            "del m2".into(),
            "unlink m3".into(),
            "swapdb 0 2".into(),
            "swapdb 0 2".into(),
            "flushdb".into(),
        ];
        for line in &script {
            k.run(line);
            k.inst.ks.check_accounting();
        }
        k.run("set e v px 1");
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(k.run("get e"), "$-1\r\n", "expired lazily");
        k.inst.ks.check_accounting();
        k.run("flushall");
        assert_eq!(k.inst.ks.used_memory(), 0);
        assert_eq!(k.inst.ks.key_count(), 0);
    }

    #[test]
    fn tenant_info_reports_accounted_memory() {
        let mut k = tenant();
        assert_eq!(info_field(&mut k, "memory", "used_memory"), 0);
        k.run("set a hello");
        let used = info_field(&mut k, "memory", "used_memory");
        assert_eq!(used, k.inst.ks.used_memory());
        assert!(used > 100, "{used}");
        k.run("config set maxmemory 1mb");
        assert!(k.run("info memory").contains("maxmemory_human:1.00M\r\n"));
        k.run("flushall");
        assert_eq!(info_field(&mut k, "memory", "used_memory"), 0);
    }
}
