//! The pub/sub family: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE,
//! SUNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB. The channels are the instance's own
//! (see `crate::pubsub`), so a tenant database never hears another's messages.

use crate::ctx::Ctx;
use crate::pubsub::{self, Kind};
use crate::spec::Handler;

pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("subscribe", subscribe),
        ("unsubscribe", unsubscribe),
        ("psubscribe", psubscribe),
        ("punsubscribe", punsubscribe),
        ("ssubscribe", ssubscribe),
        ("sunsubscribe", sunsubscribe),
        ("publish", publish),
        ("spublish", spublish),
        ("pubsub|channels", pubsub_channels),
        ("pubsub|shardchannels", pubsub_shardchannels),
        ("pubsub|numsub", pubsub_numsub),
        ("pubsub|shardnumsub", pubsub_shardnumsub),
        ("pubsub|numpat", pubsub_numpat),
        ("pubsub|help", pubsub_help),
    ]
}

fn subscribe_kind(ctx: &mut Ctx, argv: &[&[u8]], kind: Kind) {
    pubsub::subscribe(ctx.inst, ctx.client, ctx.out, kind, &argv[1..]);
}

fn unsubscribe_kind(ctx: &mut Ctx, argv: &[&[u8]], kind: Kind) {
    pubsub::unsubscribe(ctx.inst, ctx.client, ctx.out, kind, &argv[1..]);
}

fn subscribe(ctx: &mut Ctx, argv: &[&[u8]]) {
    subscribe_kind(ctx, argv, Kind::Channel);
}

fn psubscribe(ctx: &mut Ctx, argv: &[&[u8]]) {
    subscribe_kind(ctx, argv, Kind::Pattern);
}

fn ssubscribe(ctx: &mut Ctx, argv: &[&[u8]]) {
    subscribe_kind(ctx, argv, Kind::Shard);
}

fn unsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) {
    unsubscribe_kind(ctx, argv, Kind::Channel);
}

fn punsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) {
    unsubscribe_kind(ctx, argv, Kind::Pattern);
}

fn sunsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) {
    unsubscribe_kind(ctx, argv, Kind::Shard);
}

fn publish_kind(ctx: &mut Ctx, argv: &[&[u8]], kind: Kind) {
    let me = pubsub::own_outbox(ctx.client).cloned();
    let n = pubsub::publish(ctx.inst, kind, argv[1], argv[2], me.as_ref(), ctx.out);
    ctx.out.int(n as i64);
}

fn publish(ctx: &mut Ctx, argv: &[&[u8]]) {
    publish_kind(ctx, argv, Kind::Channel);
}

fn spublish(ctx: &mut Ctx, argv: &[&[u8]]) {
    publish_kind(ctx, argv, Kind::Shard);
}

fn channels(ctx: &mut Ctx, argv: &[&[u8]], kind: Kind) {
    if argv.len() > 3 {
        return ctx.error(&crate::errors::unknown_subcommand_or_arity(
            argv[0], argv[1],
        ));
    }
    let list = ctx.inst.pubsub.list(kind, argv.get(2).copied());
    ctx.out.array(list.len());
    for c in list {
        ctx.out.bulk(&c);
    }
}

fn pubsub_channels(ctx: &mut Ctx, argv: &[&[u8]]) {
    channels(ctx, argv, Kind::Channel);
}

fn pubsub_shardchannels(ctx: &mut Ctx, argv: &[&[u8]]) {
    channels(ctx, argv, Kind::Shard);
}

/// NUMSUB / SHARDNUMSUB: a flat array of channel, count pairs (an array in RESP3 too,
/// as Redis 7.0 replies).
fn numsub(ctx: &mut Ctx, argv: &[&[u8]], kind: Kind) {
    let names = &argv[2..];
    ctx.out.array(names.len() * 2);
    for &c in names {
        ctx.out.bulk(c);
        ctx.out.int(ctx.inst.pubsub.numsub(kind, c) as i64);
    }
}

fn pubsub_numsub(ctx: &mut Ctx, argv: &[&[u8]]) {
    numsub(ctx, argv, Kind::Channel);
}

fn pubsub_shardnumsub(ctx: &mut Ctx, argv: &[&[u8]]) {
    numsub(ctx, argv, Kind::Shard);
}

fn pubsub_numpat(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.out.int(ctx.inst.pubsub.pattern_count() as i64);
}

fn pubsub_help(ctx: &mut Ctx, _argv: &[&[u8]]) {
    const LINES: &[&str] = &[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::families::util::testkit::Kit;
    use crate::{Client, ClientInfo};

    /// A second connection on the same instance.
    fn other(id: u64) -> Client {
        Client::new(Arc::new(ClientInfo::new(id, "x".into(), "y".into())), true)
    }

    fn run_as(k: &mut Kit, c: &mut Client, line: &str) -> String {
        std::mem::swap(&mut k.client, c);
        let r = k.run(line);
        std::mem::swap(&mut k.client, c);
        r
    }

    /// Runs one command given as separate arguments (spaces allowed) through dispatch.
    fn argv(k: &mut Kit, args: &[&str]) -> String {
        let v: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        k.out.clear();
        crate::dispatch::dispatch(&k.inst, &mut k.client, &mut k.out, &v);
        String::from_utf8_lossy(k.out.as_bytes()).into_owned()
    }

    fn queued(c: &Client) -> String {
        let mut w = resp::ReplyWriter::new(resp::Protocol::Resp2);
        if let Some(s) = &c.subs {
            s.outbox.drain_into(&mut w);
        }
        String::from_utf8_lossy(w.as_bytes()).into_owned()
    }

    #[test]
    fn subscribe_publish_unsubscribe() {
        let mut k = Kit::new();
        let mut sub = other(2);
        assert_eq!(
            run_as(&mut k, &mut sub, "subscribe a b a"),
            "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:2\r\n"
        );
        assert_eq!(k.run("publish a hello"), ":1\r\n");
        assert_eq!(k.run("publish c hello"), ":0\r\n");
        assert_eq!(
            queued(&sub),
            "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n"
        );
        assert_eq!(
            run_as(&mut k, &mut sub, "psubscribe a*"),
            "*3\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:3\r\n"
        );
        assert_eq!(k.run("publish a x"), ":2\r\n");
        assert_eq!(
            queued(&sub),
            "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nx\r\n*4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$1\r\na\r\n$1\r\nx\r\n"
        );
        assert_eq!(k.run("pubsub numpat"), ":1\r\n");
        assert_eq!(k.run("pubsub channels"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
        assert_eq!(k.run("pubsub channels b*"), "*1\r\n$1\r\nb\r\n");
        assert_eq!(
            k.run("pubsub numsub a zz"),
            "*4\r\n$1\r\na\r\n:1\r\n$2\r\nzz\r\n:0\r\n"
        );
        // Unsubscribing from everything goes in subscription order and counts down.
        assert_eq!(
            run_as(&mut k, &mut sub, "unsubscribe"),
            "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:2\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:1\r\n"
        );
        assert_eq!(
            run_as(&mut k, &mut sub, "unsubscribe"),
            "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:1\r\n"
        );
        assert_eq!(k.run("pubsub channels"), "*0\r\n");
        assert_eq!(
            run_as(&mut k, &mut sub, "punsubscribe"),
            "*3\r\n$12\r\npunsubscribe\r\n$2\r\na*\r\n:0\r\n"
        );
        assert_eq!(k.run("publish a x"), ":0\r\n");
        assert!(!k.inst.pubsub.anyone());
    }

    #[test]
    fn subscribed_mode_refuses_other_commands_in_resp2_only() {
        let mut k = Kit::new();
        k.run("subscribe ch");
        assert_eq!(
            k.run("get k"),
            "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
        );
        assert!(k.run("client list").contains("Can't execute 'client|list'"));
        assert_eq!(k.run("ping"), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
        assert_eq!(k.run("ping hi"), "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
        // A message to itself (RESP3) comes before the reply to PUBLISH.
        k.out.set_protocol(resp::Protocol::Resp3);
        assert_eq!(k.run("get k"), "_\r\n");
        assert_eq!(
            k.run("publish ch m"),
            ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n:1\r\n"
        );
        assert_eq!(k.run("ping"), "+PONG\r\n");
        assert_eq!(k.run("reset"), "+RESET\r\n");
        assert_eq!(k.inst.pubsub.channel_count(), 0);
        assert_eq!(k.run("get k"), "$-1\r\n");
    }

    #[test]
    fn shard_channels_are_apart() {
        let mut k = Kit::new();
        let mut sub = other(2);
        assert_eq!(
            run_as(&mut k, &mut sub, "ssubscribe s"),
            "*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n"
        );
        assert_eq!(k.run("publish s x"), ":0\r\n");
        assert_eq!(k.run("spublish s x"), ":1\r\n");
        assert_eq!(
            queued(&sub),
            "*3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nx\r\n"
        );
        assert_eq!(k.run("pubsub shardchannels"), "*1\r\n$1\r\ns\r\n");
        assert_eq!(k.run("pubsub shardnumsub s"), "*2\r\n$1\r\ns\r\n:1\r\n");
        assert_eq!(k.run("pubsub channels"), "*0\r\n");
        assert!(k.run("info stats").contains("pubsubshard_channels:1\r\n"));
        assert_eq!(
            run_as(&mut k, &mut sub, "sunsubscribe"),
            "*3\r\n$12\r\nsunsubscribe\r\n$1\r\ns\r\n:0\r\n"
        );
    }

    #[test]
    fn a_subscriber_over_its_limit_is_dropped() {
        let mut k = Kit::new();
        let set =
            |k: &mut Kit, v: &str| argv(k, &["config", "set", "client-output-buffer-limit", v]);
        assert_eq!(set(&mut k, "pubsub 1000 0 0"), "+OK\r\n");
        assert_eq!(
            argv(&mut k, &["config", "get", "client-output-buffer-limit"]),
            "*2\r\n$26\r\nclient-output-buffer-limit\r\n$56\r\nnormal 0 0 0 slave 268435456 67108864 60 pubsub 1000 0 0\r\n"
        );
        assert!(set(&mut k, "pubsub 1").contains("Wrong number of arguments"));
        assert!(set(&mut k, "master 1 1 1").contains("Invalid client class"));
        assert!(set(&mut k, "pubsub 1x 1 1").contains("Error in hard, soft"));
        assert!(set(&mut k, "pubsub 1 1 -1").contains("Error in hard, soft"));
        let mut sub = other(2);
        run_as(&mut k, &mut sub, "subscribe big");
        let msg = "x".repeat(400);
        assert_eq!(k.run(&format!("publish big {msg}")), ":1\r\n");
        assert_eq!(k.run(&format!("publish big {msg}")), ":1\r\n");
        assert!(!sub.info.is_killed());
        assert!(sub.info.omem.load(std::sync::atomic::Ordering::Relaxed) > 800);
        assert_eq!(k.run(&format!("publish big {msg}")), ":1\r\n");
        assert!(sub.info.is_killed());
        assert_eq!(sub.info.omem.load(std::sync::atomic::Ordering::Relaxed), 0);
        assert_eq!(queued(&sub), "");
        assert!(k
            .run("info stats")
            .contains("client_output_buffer_limit_disconnections:1\r\n"));
    }

    #[test]
    fn evicted_and_new_keys_are_told() {
        let mut k = Kit::new();
        k.inst.update_config(|c| c.tenant = true);
        let mut sub = other(2);
        run_as(
            &mut k,
            &mut sub,
            "subscribe __keyevent@0__:evicted __keyevent@0__:new",
        );
        assert_eq!(k.run("config set notify-keyspace-events Een"), "+OK\r\n");
        k.run("set a 1");
        assert_eq!(
            queued(&sub),
            "*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:new\r\n$1\r\na\r\n"
        );
        k.run("set a 2");
        assert_eq!(queued(&sub), "", "an overwrite is not new");
        for i in 0..50 {
            k.run(&format!("set k{i} {}", "v".repeat(100)));
        }
        queued(&sub);
        k.inst.update_config(|c| {
            c.maxmemory_policy = "allkeys-random".into();
            c.maxmemory = 1000;
        });
        k.run("ping");
        let q = queued(&sub);
        let evicted = q.matches("__keyevent@0__:evicted").count() as u64;
        assert!(evicted > 10, "{q}");
        assert_eq!(evicted + k.inst.ks.key_count(), 51);
        // Notifications off: the engine records nothing more.
        k.inst.update_config(|c| c.maxmemory = 0);
        assert_eq!(
            argv(&mut k, &["config", "set", "notify-keyspace-events", ""]),
            "+OK\r\n"
        );
        assert!(!k.inst.ks.events.enabled());
        k.run("set z 1");
        assert_eq!(queued(&sub), "");
    }

    #[test]
    fn keyspace_notifications_reach_subscribers() {
        let mut k = Kit::new();
        let mut sub = other(2);
        run_as(&mut k, &mut sub, "psubscribe __key*__:*");
        k.run("set a 1");
        assert_eq!(queued(&sub), "", "off by default");
        assert_eq!(k.run("config set notify-keyspace-events KEA"), "+OK\r\n");
        k.run("set a 2");
        let q = queued(&sub);
        assert!(q.contains("__keyspace@0__:a\r\n$3\r\nset\r\n"), "{q}");
        assert!(q.contains("__keyevent@0__:set\r\n$1\r\na\r\n"), "{q}");
        k.run("config set notify-keyspace-events Ex");
        k.run("set e 1 px 1");
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(k.run("get e"), "$-1\r\n");
        let q = queued(&sub);
        assert_eq!(
            q,
            "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$22\r\n__keyevent@0__:expired\r\n$1\r\ne\r\n"
        );
    }
}
