//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. The queue, EXEC's atomic run
//! and the watch registry live in `crate::multi`; dispatch queues commands while a
//! client is in MULTI and runs EXEC itself.

use crate::ctx::Ctx;
use crate::errors;
use crate::multi;
use crate::spec::Handler;

pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("multi", multi_cmd),
        ("exec", exec),
        ("discard", discard),
        ("watch", watch),
        ("unwatch", unwatch),
    ]
}

fn multi_cmd(ctx: &mut Ctx, _argv: &[&[u8]]) {
    if ctx.client.multi.is_some() {
        return ctx.error(errors::MULTI_NESTED);
    }
    multi::begin(ctx.client);
    ctx.out.ok();
}

/// Dispatch runs EXEC through `multi::exec` directly, before locking anything (EXEC
/// locks the shards of its queued commands itself); this entry serves the command
/// table and callers that hold no shard.
fn exec(ctx: &mut Ctx, _argv: &[&[u8]]) {
    match multi::exec(ctx.inst, ctx.client, ctx.out) {
        multi::ExecOutcome::Ran => {}
        multi::ExecOutcome::Failed | multi::ExecOutcome::Rejected => {
            ctx.client.last_command_failed = true
        }
    }
}

fn discard(ctx: &mut Ctx, _argv: &[&[u8]]) {
    if ctx.client.multi.is_none() {
        return ctx.error(errors::DISCARD_WITHOUT_MULTI);
    }
    multi::discard(ctx.inst, ctx.client);
    ctx.out.ok();
}

fn watch(ctx: &mut Ctx, argv: &[&[u8]]) {
    if ctx.client.multi.is_some() {
        return ctx.error(errors::WATCH_IN_MULTI);
    }
    // Already dirty: the next EXEC fails whatever is added (Redis skips the work).
    if !ctx
        .client
        .info
        .watch_dirty
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        for key in &argv[1..] {
            multi::watch(ctx.inst, ctx.client, ctx.ks, key, ctx.now_ms);
        }
    }
    ctx.out.ok();
}

fn unwatch(ctx: &mut Ctx, _argv: &[&[u8]]) {
    multi::unwatch(ctx.inst, ctx.client);
    ctx.out.ok();
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use resp::{Protocol, ReplyWriter};

    use crate::families::util::testkit::Kit;
    use crate::{Client, ClientInfo};

    const OK: &str = "+OK\r\n";
    const QUEUED: &str = "+QUEUED\r\n";
    const NULL_ARRAY: &str = "*-1\r\n";

    /// A second connection on the kit's instance.
    struct Other {
        client: Client,
        out: ReplyWriter,
    }

    impl Other {
        fn new(k: &Kit, id: u64) -> Other {
            let info = Arc::new(ClientInfo::new(id, "c".into(), "d".into()));
            k.inst.register_client(info.clone());
            Other {
                client: Client::new(info, true),
                out: ReplyWriter::new(Protocol::Resp2),
            }
        }

        fn run(&mut self, k: &Kit, line: &str) -> String {
            let argv: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            self.out.clear();
            crate::dispatch::dispatch(&k.inst, &mut self.client, &mut self.out, &argv);
            crate::dispatch::flush_stats(&k.inst, &mut self.client);
            String::from_utf8_lossy(self.out.as_bytes()).into_owned()
        }
    }

    fn stat(k: &mut Kit, cmd: &str) -> String {
        let info = k.run("info commandstats");
        let prefix = format!("cmdstat_{cmd}:");
        info.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|v| {
                // Drop the timings.
                v.split(',')
                    .filter(|f| !f.starts_with("usec"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    }

    #[test]
    fn queue_and_exec() {
        let mut k = Kit::new();
        assert_eq!(k.run("multi"), OK);
        assert_eq!(k.run("set a 1"), QUEUED);
        assert_eq!(k.run("incr a"), QUEUED);
        assert_eq!(k.run("get a"), QUEUED);
        assert_eq!(k.run("get nope"), QUEUED);
        assert_eq!(k.run("exec"), "*4\r\n+OK\r\n:2\r\n$1\r\n2\r\n$-1\r\n");
        assert_eq!(k.run("get a"), "$1\r\n2\r\n");
        assert_eq!(k.run("exec"), "-ERR EXEC without MULTI\r\n");
        assert_eq!(k.run("multi"), OK);
        assert_eq!(k.run("exec"), "*0\r\n");
    }

    #[test]
    fn errors_inside_exec_are_replies() {
        let mut k = Kit::new();
        k.run("set s x");
        k.run("multi");
        assert_eq!(k.run("incr s"), QUEUED);
        assert_eq!(k.run("set s y"), QUEUED);
        assert_eq!(
            k.run("exec"),
            "*2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n"
        );
        assert_eq!(k.run("get s"), "$1\r\ny\r\n");
        assert_eq!(
            stat(&mut k, "incr"),
            "calls=1,rejected_calls=0,failed_calls=1"
        );
        assert_eq!(
            stat(&mut k, "exec"),
            "calls=1,rejected_calls=0,failed_calls=0"
        );
    }

    #[test]
    fn queueing_errors_abort_the_transaction() {
        let mut k = Kit::new();
        for bad in [
            "set a",
            "nosuchcommand x",
            "config nosuchsub",
            "shutdown nosave",
        ] {
            assert_eq!(k.run("multi"), OK);
            assert_eq!(k.run("set a 1"), QUEUED);
            assert!(k.run(bad).starts_with("-ERR"), "{bad}");
            assert_eq!(k.run("set b 1"), QUEUED);
            assert_eq!(
                k.run("exec"),
                "-EXECABORT Transaction discarded because of previous errors.\r\n",
                "{bad}"
            );
            assert_eq!(k.run("exists a b"), ":0\r\n");
        }
        assert_eq!(k.run("multi"), OK);
        assert_eq!(
            k.run("shutdown"),
            "-ERR Command not allowed inside a transaction\r\n"
        );
        k.run("discard");
        assert_eq!(
            stat(&mut k, "set"),
            "calls=0,rejected_calls=1,failed_calls=0"
        );
        assert_eq!(
            stat(&mut k, "exec"),
            "calls=4,rejected_calls=0,failed_calls=4"
        );
        assert_eq!(
            stat(&mut k, "multi"),
            "calls=5,rejected_calls=0,failed_calls=0"
        );
    }

    #[test]
    fn control_commands_inside_multi() {
        let mut k = Kit::new();
        assert_eq!(k.run("discard"), "-ERR DISCARD without MULTI\r\n");
        k.run("multi");
        assert_eq!(k.run("multi"), "-ERR MULTI calls can not be nested\r\n");
        assert_eq!(
            k.run("watch x"),
            "-ERR WATCH inside MULTI is not allowed\r\n"
        );
        assert_eq!(k.run("unwatch"), QUEUED);
        assert_eq!(k.run("set x 1"), QUEUED);
        // Errors of commands that run at once do not fail the transaction.
        assert_eq!(k.run("exec"), "*2\r\n+OK\r\n+OK\r\n");
        k.run("multi");
        k.run("set x 2");
        assert_eq!(k.run("discard"), OK);
        assert_eq!(k.run("get x"), "$1\r\n1\r\n");
        k.run("multi");
        k.run("set x 3");
        assert_eq!(k.run("reset"), "+RESET\r\n");
        assert_eq!(k.run("exec"), "-ERR EXEC without MULTI\r\n");
        assert_eq!(k.run("get x"), "$1\r\n1\r\n");
    }

    #[test]
    fn watch_detects_writes_by_anyone() {
        let mut k = Kit::new();
        let mut o = Other::new(&k, 2);
        k.inst.register_client(k.client.info.clone());
        k.run("set w 1");
        assert_eq!(k.run("watch w"), OK);
        assert_eq!(k.inst.watches.registrations(), 1);
        assert_eq!(o.run(&k, "set w 2"), OK);
        assert!(k.run("client info").contains(" flags=d "));
        k.run("multi");
        assert!(o.run(&k, "client list").contains(" flags=xd "));
        k.run("set w mine");
        assert_eq!(k.run("exec"), NULL_ARRAY);
        assert_eq!(k.run("get w"), "$1\r\n2\r\n");
        assert_eq!(k.inst.watches.registrations(), 0, "EXEC unwatches");
        // Untouched: runs.
        k.run("watch w");
        o.run(&k, "get w");
        o.run(&k, "set other 1");
        k.run("multi");
        k.run("set w mine");
        assert_eq!(k.run("exec"), "*1\r\n+OK\r\n");
        // The client's own write before MULTI counts.
        k.run("watch w");
        k.run("append w x");
        k.run("multi");
        k.run("get w");
        assert_eq!(k.run("exec"), NULL_ARRAY);
        // UNWATCH forgets.
        k.run("watch w");
        o.run(&k, "del w");
        assert_eq!(k.run("unwatch"), OK);
        k.run("multi");
        k.run("get w");
        assert_eq!(k.run("exec"), "*1\r\n$-1\r\n");
        // A write that modifies nothing (DEL of a missing key) does not count.
        k.run("watch w");
        o.run(&k, "del w");
        o.run(&k, "expire w 10");
        k.run("multi");
        k.run("get w");
        assert_eq!(k.run("exec"), "*1\r\n$-1\r\n");
        // A failed write does not count either.
        k.run("set w notanumber");
        k.run("watch w");
        assert!(o.run(&k, "incr w").starts_with("-ERR"));
        k.run("multi");
        k.run("get w");
        assert_eq!(k.run("exec"), "*1\r\n$10\r\nnotanumber\r\n");
    }

    #[test]
    fn watch_is_per_database() {
        let mut k = Kit::new();
        let mut o = Other::new(&k, 2);
        k.run("watch w");
        o.run(&k, "select 1");
        o.run(&k, "set w 1");
        k.run("multi");
        k.run("ping");
        assert_eq!(k.run("exec"), "*1\r\n+PONG\r\n");
        // MOVE writes the destination database's key.
        k.run("select 1");
        k.run("watch w");
        o.run(&k, "select 0");
        o.run(&k, "set w 0");
        o.run(&k, "del w");
        k.run("multi");
        k.run("ping");
        assert_eq!(
            k.run("exec"),
            "*1\r\n+PONG\r\n",
            "db 0's key is not watched"
        );
        k.run("watch w");
        o.run(&k, "select 1");
        o.run(&k, "del w");
        o.run(&k, "select 0");
        o.run(&k, "set w 0");
        assert_eq!(o.run(&k, "move w 1"), ":1\r\n");
        k.run("multi");
        k.run("ping");
        assert_eq!(k.run("exec"), NULL_ARRAY);
    }

    #[test]
    fn flush_and_swap_touch_existing_watched_keys() {
        let mut k = Kit::new();
        let mut o = Other::new(&k, 2);
        // FLUSHDB of a missing watched key changes nothing.
        k.run("watch gone");
        o.run(&k, "flushdb");
        k.run("multi");
        k.run("ping");
        assert_eq!(k.run("exec"), "*1\r\n+PONG\r\n");
        for flush in ["flushdb", "flushall", "swapdb 0 1"] {
            k.run("set w 1");
            k.run("watch w");
            o.run(&k, flush);
            k.run("multi");
            k.run("ping");
            assert_eq!(k.run("exec"), NULL_ARRAY, "{flush}");
            k.run("flushall");
        }
        // SWAPDB bringing a key in.
        o.run(&k, "select 1");
        o.run(&k, "set w 1");
        k.run("watch w");
        o.run(&k, "swapdb 1 0");
        k.run("multi");
        k.run("ping");
        assert_eq!(k.run("exec"), NULL_ARRAY);
    }

    #[test]
    fn watch_detects_expiry() {
        let mut k = Kit::new();
        k.run("set w 1 px 30");
        k.run("watch w");
        std::thread::sleep(std::time::Duration::from_millis(50));
        k.run("multi");
        k.run("ping");
        assert_eq!(k.run("exec"), NULL_ARRAY);
        // A key already gone at WATCH that stays gone is not a change.
        k.run("set w 1 px 1");
        std::thread::sleep(std::time::Duration::from_millis(5));
        k.run("watch w");
        k.run("multi");
        k.run("ping");
        assert_eq!(k.run("exec"), "*1\r\n+PONG\r\n");
    }

    #[test]
    fn disconnect_releases_watches() {
        let k = Kit::new();
        let mut o = Other::new(&k, 2);
        o.run(&k, "watch a b c");
        o.run(&k, "watch a");
        assert_eq!(k.inst.watches.registrations(), 3);
        crate::multi::release(&k.inst, &mut o.client);
        assert_eq!(k.inst.watches.registrations(), 0);
        assert!(!k.inst.watches.any());
    }

    #[test]
    fn client_list_shows_the_transaction() {
        let mut k = Kit::new();
        k.inst.register_client(k.client.info.clone());
        assert!(k.run("client info").contains(" flags=N "));
        assert!(k.run("client info").contains(" multi=-1 "));
        k.run("multi");
        k.run("ping");
        k.run("ping");
        let r = k.run("exec");
        assert!(r.starts_with("*2\r\n"));
        k.run("multi");
        k.run("client info");
        let r = k.run("exec");
        assert!(r.contains(" flags=x "), "{r}");
        assert!(r.contains(" multi=1 "), "{r}");
        assert!(k.run("client info").contains(" multi=-1 "));
    }

    #[test]
    fn oom_while_queuing_and_at_exec() {
        let mut k = Kit::new();
        k.inst.update_config(|c| c.tenant = true);
        for i in 0..20 {
            k.run(&format!("set k{i} {}", "v".repeat(100)));
        }
        let mut o = Other::new(&k, 2);
        let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
        k.run("multi");
        assert_eq!(k.run("get k1"), QUEUED);
        assert_eq!(o.run(&k, "config set maxmemory 100"), OK);
        assert_eq!(k.run("get k1"), oom, "queuing anything is refused");
        assert_eq!(k.run("discard"), OK);
        assert_eq!(o.run(&k, "config set maxmemory 0"), OK);
        k.run("multi");
        assert_eq!(k.run("set x 1"), QUEUED);
        assert_eq!(o.run(&k, "config set maxmemory 100"), OK);
        assert_eq!(
            k.run("exec"),
            format!("-EXECABORT Transaction discarded because of: {}", &oom[1..])
        );
        assert_eq!(k.run("exec"), "-ERR EXEC without MULTI\r\n");
        // Reads only: EXEC runs.
        assert_eq!(o.run(&k, "config set maxmemory 0"), OK);
        k.run("multi");
        k.run("get k1");
        assert_eq!(o.run(&k, "config set maxmemory 100"), OK);
        assert!(k.run("exec").starts_with("*1\r\n"));
        assert_eq!(
            stat(&mut k, "exec"),
            "calls=2,rejected_calls=1,failed_calls=1"
        );
    }

    #[test]
    fn misconf_while_queuing_and_at_exec() {
        use std::sync::atomic::Ordering::Relaxed;
        let mut k = Kit::new();
        k.inst.writes_refused.store(true, Relaxed);
        k.run("multi");
        assert!(k.run("set a 1").starts_with("-MISCONF "));
        assert_eq!(k.run("get a"), QUEUED);
        assert!(k
            .run("exec")
            .starts_with("-EXECABORT Transaction discarded because of previous"));
        k.inst.writes_refused.store(false, Relaxed);
        k.run("multi");
        assert_eq!(k.run("set a 1"), QUEUED);
        k.inst.writes_refused.store(true, Relaxed);
        assert!(k
            .run("exec")
            .starts_with("-EXECABORT Transaction discarded because of: MISCONF "));
        // Reads only: runs.
        k.run("multi");
        k.run("get a");
        assert_eq!(k.run("exec"), "*1\r\n$-1\r\n");
        assert!(k
            .run("info errorstats")
            .contains("errorstat_EXECABORT:count=2"));
    }
}
