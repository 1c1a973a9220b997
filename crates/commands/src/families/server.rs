//! The server family: INFO, CONFIG, TIME, LASTSAVE, SHUTDOWN, DEBUG.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::config::{self, PARAMS};
use crate::ctx::Ctx;
use crate::errors;
use crate::instance::{memory, unix_ms, unix_us, Instance, MemoryStats};
use crate::registry::registry;
use crate::spec::Handler;

/// The Redis version MiniRedis is compatible with; clients and frameworks gate
/// features on it.
pub const REDIS_VERSION: &str = "7.0.15";

pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("info", info),
        ("config|get", config_get),
        ("config|set", config_set),
        ("config|resetstat", config_resetstat),
        ("config|help", config_help),
        ("time", time),
        ("lastsave", lastsave),
        ("shutdown", shutdown),
        ("debug", debug),
    ]
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

fn info(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut wanted: Vec<String> = argv[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
        wanted.retain(|w| w != "default");
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    if wanted.iter().any(|w| w == "all" || w == "everything") {
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
        wanted.push("commandstats".into());
        wanted.push("latencystats".into());
    }
    let text = render_info(ctx.inst, ctx.ks, &wanted);
    ctx.out.verbatim("txt", text.as_bytes());
}

fn human(n: u64) -> String {
    let f = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if n < 1 << 20 {
        format!("{:.2}K", f / 1024.0)
    } else if n < 1 << 30 {
        format!("{:.2}M", f / (1u64 << 20) as f64)
    } else {
        format!("{:.2}G", f / (1u64 << 30) as f64)
    }
}

/// INFO's text for the requested sections, in Redis's order and with Redis's names.
pub fn render_info(inst: &Instance, ks: &engine::Locked<'_>, wanted: &[String]) -> String {
    let want = |s: &str| wanted.iter().any(|w| w == s);
    let mut o = String::new();
    let cfg = inst.config.read().clone();
    let mut first = true;
    let mut section = |o: &mut String, name: &str| {
        if !first {
            o.push_str("\r\n");
        }
        first = false;
        let _ = write!(o, "# {name}\r\n");
    };
    let uptime = inst.started.elapsed().as_secs();
    if want("server") {
        section(&mut o, "Server");
        let _ = write!(
            o,
            "redis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:\r\nio_threads_active:0\r\nminiredis_version:{}\r\n",
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            inst.run_id,
            cfg.port,
            unix_us(),
            uptime,
            uptime / 86400,
            cfg.hz,
            cfg.hz,
            (unix_ms() / 1000) & 0xff_ffff,
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            env!("CARGO_PKG_VERSION"),
        );
    }
    if want("clients") {
        section(&mut o, "Clients");
        let _ = write!(
            o,
            "connected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:{}\r\n",
            inst.connected_clients(),
            cfg.maxclients,
            inst.blocking.blocked_clients(),
            inst.tracking.counts().0,
            inst.blocking.with_deadline(),
        );
    }
    if want("memory") {
        section(&mut o, "Memory");
        let m = memory_figures(inst);
        let sc = inst.scripts.info();
        let peak = inst.note_memory_peak(m.allocated);
        let total = m.total_system;
        let _ = write!(
            o,
            "used_memory:{}\r\nused_memory_human:{}\r\nused_memory_rss:{}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:0\r\nused_memory_startup:0\r\nused_memory_dataset:{}\r\nallocator_allocated:{}\r\nallocator_resident:{}\r\ntotal_system_memory:{}\r\ntotal_system_memory_human:{}\r\nused_memory_lua:{}\r\nused_memory_vm_eval:{}\r\nused_memory_lua_human:{}\r\nused_memory_scripts_eval:{}\r\nnumber_of_cached_scripts:{}\r\nnumber_of_functions:{}\r\nnumber_of_libraries:{}\r\nused_memory_vm_functions:{}\r\nused_memory_vm_total:{}\r\nused_memory_vm_total_human:{}\r\nused_memory_functions:{}\r\nused_memory_scripts:{}\r\nused_memory_scripts_human:{}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_allocator:{}\r\nlazyfree_pending_objects:0\r\n",
            m.allocated,
            human(m.allocated),
            m.resident,
            human(m.resident),
            peak,
            human(peak),
            if peak > 0 { m.allocated as f64 * 100.0 / peak as f64 } else { 100.0 },
            m.allocated,
            m.allocated,
            m.resident,
            total,
            human(total),
            sc.vm_eval,
            sc.vm_eval,
            human(sc.vm_eval),
            sc.scripts_eval,
            sc.cached_scripts,
            sc.functions,
            sc.libraries,
            sc.vm_functions,
            sc.vm_eval + sc.vm_functions,
            human(sc.vm_eval + sc.vm_functions),
            sc.functions_mem,
            sc.scripts_eval + sc.functions_mem,
            human(sc.scripts_eval + sc.functions_mem),
            cfg.maxmemory,
            human(cfg.maxmemory),
            cfg.maxmemory_policy,
            if m.allocated > 0 { m.resident as f64 / m.allocated as f64 } else { 1.0 },
            m.allocator,
        );
    }
    if want("persistence") {
        section(&mut o, "Persistence");
        let _ = write!(
            o,
            "loading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:ok\r\nrdb_last_bgsave_time_sec:-1\r\nrdb_current_bgsave_time_sec:-1\r\naof_enabled:{}\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_last_write_status:ok\r\n",
            inst.lastsave_unix.load(Relaxed),
            u8::from(cfg.appendonly),
        );
    }
    if want("stats") {
        section(&mut o, "Stats");
        let s = &inst.stats;
        let tracking = inst.tracking.counts();
        let ks = if ks.holds_all() {
            ks.stats()
        } else {
            inst.ks.stats()
        };
        let _ = write!(
            o,
            "total_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nevicted_keys:{}\r\nevicted_clients:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\ntotal_error_replies:{}\r\nunexpected_error_replies:{}\r\nclient_query_buffer_limit_disconnections:{}\r\nclient_output_buffer_limit_disconnections:{}\r\n",
            s.total_connections_received.load(Relaxed),
            s.total_commands_processed.load(Relaxed),
            inst.ops_per_sec(),
            s.net_input_bytes.load(Relaxed),
            s.net_output_bytes.load(Relaxed),
            s.rejected_connections.load(Relaxed),
            ks.expired_keys,
            ks.evicted_keys,
            ks.keyspace_hits,
            ks.keyspace_misses,
            inst.pubsub.channel_count(),
            inst.pubsub.pattern_count(),
            inst.pubsub.shard_channel_count(),
            tracking.1,
            tracking.2,
            tracking.3,
            s.total_error_replies.load(Relaxed),
            s.unexpected_error_replies.load(Relaxed),
            s.client_query_buffer_limit_disconnections.load(Relaxed),
            s.client_output_buffer_limit_disconnections.load(Relaxed),
        );
    }
    if want("replication") {
        section(&mut o, "Replication");
        let _ = write!(
            o,
            "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
            inst.run_id
        );
    }
    if want("cpu") {
        section(&mut o, "CPU");
        let (user, sys) = cpu_times();
        let _ = write!(
            o,
            "used_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n"
        );
    }
    if want("modules") {
        section(&mut o, "Modules");
    }
    if want("errorstats") {
        section(&mut o, "Errorstats");
        let mut errs: Vec<(String, u64)> = inst
            .stats
            .errors
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        errs.sort();
        for (k, v) in errs {
            let _ = write!(o, "errorstat_{k}:count={v}\r\n");
        }
    }
    if want("cluster") {
        section(&mut o, "Cluster");
        o.push_str("cluster_enabled:0\r\n");
    }
    if want("commandstats") {
        section(&mut o, "Commandstats");
        let reg = registry();
        for (i, st) in inst.cmd_stats.iter().enumerate() {
            let calls = st.calls.load(Relaxed);
            let rejected = st.rejected.load(Relaxed);
            if calls == 0 && rejected == 0 {
                continue;
            }
            let usec = st.usec.load(Relaxed);
            let name = reg.specs[i].name;
            let _ = write!(
                o,
                "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                name,
                calls,
                usec,
                if calls > 0 { usec as f64 / calls as f64 } else { 0.0 },
                rejected,
                st.failed.load(Relaxed),
            );
        }
    }
    if want("latencystats") {
        section(&mut o, "Latencystats");
        if inst.limits.latency_tracking() {
            let reg = registry();
            for i in 0..reg.specs.len() {
                let Some(h) = inst.diag.histograms.get(i as u32) else {
                    continue;
                };
                let _ = write!(o, "latency_percentiles_usec_{}:", reg.specs[i].name);
                for (j, p) in cfg.latency_tracking_info_percentiles.iter().enumerate() {
                    let label = config::format_percentiles(&[*p]);
                    let usec = h.value_at_percentile(*p) as f64 / 1000.0;
                    let _ = write!(o, "{}p{label}={usec:.3}", if j > 0 { "," } else { "" });
                }
                o.push_str("\r\n");
            }
        }
    }
    if want("keyspace") {
        section(&mut o, "Keyspace");
        let dbs = if ks.holds_all() {
            ks.db_info()
        } else {
            inst.ks.db_info()
        };
        for (i, d) in dbs.iter().enumerate() {
            if d.keys > 0 {
                let _ = write!(
                    o,
                    "db{i}:keys={},expires={},avg_ttl=0\r\n",
                    d.keys, d.expires
                );
            }
        }
    }
    o
}

/// The figures INFO memory reports. A standalone node reports its allocator's (the
/// process is the node). A tenant shares the process with other databases, so its
/// used memory is its keyspace's accounted bytes, the same figure its maxmemory is
/// enforced against; it has no resident set or fragmentation of its own to report, so
/// those equal its used memory.
pub(crate) fn memory_figures(inst: &Instance) -> MemoryStats {
    let mut m = memory();
    if inst.limits.tenant() {
        let used = inst.ks.used_memory();
        m.allocated = used;
        m.resident = used;
    }
    m
}

/// Process CPU time (user, system) in seconds.
fn cpu_times() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the parenthesised command name; utime and stime are 14th and 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = 100.0;
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / tick;
    (get(11), get(12))
}

fn config_get(ctx: &mut Ctx, argv: &[&[u8]]) {
    let cfg = ctx.inst.config.read().clone();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pat in &argv[2..] {
        let is_glob = pat.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
        if !is_glob {
            // An exact name is echoed back as the client typed it, as Redis 7.0 does.
            let name = String::from_utf8_lossy(pat).into_owned();
            if let Some(p) = config::find(&name) {
                if !pairs.iter().any(|(k, _)| k.eq_ignore_ascii_case(&name)) {
                    pairs.push((name, (p.get)(&cfg)));
                }
            }
            continue;
        }
        for p in PARAMS {
            let hit = std::iter::once(p.name)
                .chain(p.aliases.iter().copied())
                .find(|n| crate::families::util::glob_match(pat, n.as_bytes(), true));
            if let Some(n) = hit {
                if !pairs.iter().any(|(k, _)| k == n) {
                    pairs.push((n.to_string(), (p.get)(&cfg)));
                }
            }
        }
    }
    ctx.out.map(pairs.len());
    for (k, v) in pairs {
        ctx.out.bulk_str(&k);
        ctx.out.bulk_str(&v);
    }
}

fn config_set(ctx: &mut Ctx, argv: &[&[u8]]) {
    if argv.len() % 2 != 0 {
        return ctx.error(errors::SYNTAX);
    }
    // Validate everything first: CONFIG SET of several parameters is all or nothing.
    let mut changes = Vec::new();
    for pair in argv[2..].chunks(2) {
        let name = String::from_utf8_lossy(pair[0]).into_owned();
        let Some(p) = config::find(&name) else {
            return ctx.error(&errors::config_set_unknown(pair[0]));
        };
        if !p.mutable {
            return ctx.error(&errors::config_set_invalid(
                p.name,
                "can't set immutable config",
            ));
        }
        if ctx.inst.is_tenant() && !config::tenant_settable(p.name) {
            return ctx.error(&errors::config_set_invalid(
                p.name,
                errors::PROTECTED_CONFIG,
            ));
        }
        if changes
            .iter()
            .any(|(q, _): &(&config::Param, String)| q.name == p.name)
        {
            return ctx.error(&errors::config_set_invalid(p.name, "duplicate parameter"));
        }
        let value = String::from_utf8_lossy(pair[1]).into_owned();
        match config::validate(p, &value) {
            Ok(v) => {
                if let Some(reason) = config::unsupported(p.name, &v) {
                    return ctx.error(&errors::config_set_invalid(p.name, reason));
                }
                changes.push((p, v))
            }
            Err(reason) => return ctx.error(&errors::config_set_invalid(p.name, &reason)),
        }
    }
    ctx.inst.update_config(|cfg| {
        for (p, v) in changes {
            (p.set)(cfg, &v);
        }
    });
    ctx.out.ok();
}

fn config_resetstat(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.inst.stats.reset();
    for c in &ctx.inst.cmd_stats {
        c.reset();
    }
    ctx.inst.diag.histograms.reset();
    if ctx.ks.holds_all() {
        ctx.ks.reset_stats();
    } else {
        // CONFIG holds no shard, so taking them one by one here cannot deadlock.
        ctx.inst.ks.reset_stats();
    }
    ctx.out.ok();
}

fn config_help(ctx: &mut Ctx, _argv: &[&[u8]]) {
    const LINES: &[&str] = &[
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "HELP",
        "    Print this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l);
    }
}

fn time(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let us = unix_us();
    ctx.out.array(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
}

fn lastsave(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.out.int(ctx.inst.lastsave_unix.load(Relaxed) as i64);
}

fn shutdown(ctx: &mut Ctx, argv: &[&[u8]]) {
    if ctx.inst.is_tenant() {
        return ctx.error(errors::TENANT_SHUTDOWN);
    }
    let mut abort = false;
    for a in &argv[1..] {
        match a.to_ascii_lowercase().as_slice() {
            b"nosave" | b"save" | b"now" | b"force" => {}
            b"abort" => abort = true,
            _ => return ctx.error(errors::SYNTAX),
        }
    }
    if abort {
        // Nothing is ever in progress: MiniRedis shuts down at once.
        return ctx.error("ERR No shutdown in progress.");
    }
    // Redis closes the connection without a reply on success.
    ctx.client.close_after_reply = true;
    ctx.inst.request_shutdown();
}

/// DEBUG OBJECT key: Redis's fields, with the value's address, its RDB size, and its
/// access clock (LRU seconds, or the LFU counter under an LFU policy).
fn debug_object(ctx: &mut Ctx, key: &[u8]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let clock = engine::Access::lru(now);
    let line = ctx.ks.get(db, key, now).map(|e| {
        let serialized = persistence::serialized_len(&e).unwrap_or(0);
        format!(
            "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
            &e.value as *const engine::Value,
            e.value.encoding(),
            serialized,
            e.access & 0xff_ffff,
            clock.idle_secs(e.access),
        )
    });
    match line {
        Some(l) => ctx.out.simple(&l),
        None => ctx.error(errors::NO_SUCH_KEY),
    }
}

fn debug(ctx: &mut Ctx, argv: &[&[u8]]) {
    // DEBUG SLEEP would stall an I/O thread other tenants share.
    if ctx.inst.is_tenant() {
        return ctx.error(errors::TENANT_DEBUG);
    }
    let sub = argv[1].to_ascii_lowercase();
    match (sub.as_slice(), argv.len()) {
        (b"sleep", 3) => {
            let secs: f64 = match std::str::from_utf8(argv[2])
                .ok()
                .and_then(|s| s.parse().ok())
            {
                Some(s) if s >= 0.0 && f64::is_finite(s) => s,
                _ => return ctx.error(errors::NOT_FLOAT),
            };
            // Like Redis, this blocks: DEBUG holds every shard while it sleeps.
            std::thread::sleep(Duration::from_secs_f64(secs.min(3600.0)));
            ctx.out.ok();
        }
        (b"object", 3) => debug_object(ctx, argv[2]),
        (b"set-active-expire", 3) => {
            ctx.inst
                .active_expire_enabled
                .store(argv[2] != b"0", Relaxed);
            ctx.out.ok();
        }
        (b"help", 2) => {
            const LINES: &[&str] = &[
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
                "OBJECT <key>",
                "    Show low-level info about the `key` and associated value.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in the background.",
                "HELP",
                "    Print this help.",
            ];
            ctx.out.array(LINES.len());
            for l in LINES {
                ctx.out.simple(l);
            }
        }
        _ => ctx.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            errors::printable(argv[1], 128)
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::families::util::testkit::Kit;

    /// The `serializedlength` field of DEBUG OBJECT for `key`.
    fn serialized(k: &mut Kit, key: &str) -> String {
        let r = k.run(&format!("debug object {key}"));
        assert!(r.starts_with("+Value at:0x"), "{r}");
        r.split_whitespace()
            .find_map(|f| f.strip_prefix("serializedlength:"))
            .unwrap_or_else(|| panic!("{r}"))
            .to_string()
    }

    #[test]
    fn debug_object_reports_redis_fields() {
        let mut k = Kit::new();
        k.run("set n 12345");
        k.run("set s helloworldthisisalongstringoftextabcdefgh");
        k.run("hset h a 1");
        k.run("rpush l a b c");
        // Sizes redis-server 7.0 reports for the same values.
        assert_eq!(serialized(&mut k, "n"), "3");
        assert_eq!(serialized(&mut k, "s"), "42");
        assert_eq!(serialized(&mut k, "h"), "13");
        assert_eq!(serialized(&mut k, "l"), "19");
        let r = k.run("debug object s");
        assert!(
            r.contains(" refcount:1 encoding:embstr serializedlength:42 lru:"),
            "{r}"
        );
        assert!(r.ends_with(" lru_seconds_idle:0\r\n"), "{r}");
        assert_eq!(k.run("debug object nokey"), "-ERR no such key\r\n");
    }
}
