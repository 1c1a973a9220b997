//! Diagnostics: SLOWLOG, LATENCY, MONITOR, MEMORY. The data lives in
//! [`crate::diag`] (per instance); these handlers only read and format it.

use std::sync::atomic::Ordering::Relaxed;

use crate::ctx::Ctx;
use crate::diag::LatencySeries;
use crate::errors;
use crate::families::util::parse_i64;
use crate::instance::unix_ms;
use crate::spec::Handler;

pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("slowlog|get", slowlog_get),
        ("slowlog|len", slowlog_len),
        ("slowlog|reset", slowlog_reset),
        ("slowlog|help", slowlog_help),
        ("latency|latest", latency_latest),
        ("latency|history", latency_history),
        ("latency|reset", latency_reset),
        ("latency|doctor", latency_doctor),
        ("latency|graph", latency_graph),
        ("latency|help", latency_help),
        ("monitor", monitor),
        ("memory|usage", memory_usage),
        ("memory|stats", memory_stats),
        ("memory|doctor", memory_doctor),
        ("memory|malloc-stats", memory_malloc_stats),
        ("memory|purge", memory_purge),
        ("memory|help", memory_help),
    ]
}

fn help(ctx: &mut Ctx, lines: &[&str]) {
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.simple(l);
    }
}

// ---- SLOWLOG ----

fn slowlog_get(ctx: &mut Ctx, argv: &[&[u8]]) {
    let count = match argv.len() {
        2 => 10,
        3 => match parse_i64(argv[2]) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => n as usize,
            _ => return ctx.error(errors::SLOWLOG_COUNT),
        },
        _ => {
            return ctx.error(&errors::unknown_subcommand_or_arity(argv[0], argv[1]));
        }
    };
    let entries = ctx.inst.diag.slowlog.latest(count);
    let out = &mut *ctx.out;
    out.array(entries.len());
    for e in entries {
        out.array(6);
        out.int(e.id as i64);
        out.int(e.time as i64);
        out.int(e.usec as i64);
        out.array(e.args.len());
        for a in &e.args {
            out.bulk(a);
        }
        out.bulk_str(&e.peer);
        out.bulk_str(&e.name);
    }
}

fn slowlog_len(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.out.int(ctx.inst.diag.slowlog.len() as i64);
}

fn slowlog_reset(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.inst.diag.slowlog.reset();
    ctx.out.ok();
}

fn slowlog_help(ctx: &mut Ctx, _argv: &[&[u8]]) {
    help(
        ctx,
        &[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        ],
    );
}

// ---- LATENCY ----

fn latency_latest(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let events = ctx.inst.diag.latency.snapshot();
    let out = &mut *ctx.out;
    out.array(events.len());
    for (name, s) in events {
        let last = s
            .samples
            .back()
            .copied()
            .unwrap_or(crate::diag::LatencySample {
                time: 0,
                latency: 0,
            });
        out.array(4);
        out.bulk_str(&name);
        out.int(last.time as i64);
        out.int(last.latency as i64);
        out.int(s.max as i64);
    }
}

fn latency_history(ctx: &mut Ctx, argv: &[&[u8]]) {
    let event = String::from_utf8_lossy(argv[2]);
    let Some(s) = ctx.inst.diag.latency.series(&event) else {
        ctx.out.array(0);
        return;
    };
    ctx.out.array(s.samples.len());
    for x in &s.samples {
        ctx.out.array(2);
        ctx.out.int(x.time as i64);
        ctx.out.int(x.latency as i64);
    }
}

fn latency_reset(ctx: &mut Ctx, argv: &[&[u8]]) {
    let names: Vec<String> = argv[2..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let n = ctx.inst.diag.latency.reset(&names);
    ctx.out.int(n as i64);
}

fn latency_graph(ctx: &mut Ctx, argv: &[&[u8]]) {
    let event = String::from_utf8_lossy(argv[2]).into_owned();
    let Some(s) = ctx.inst.diag.latency.series(&event) else {
        return ctx.error(&errors::latency_no_samples(&event));
    };
    let graph = latency_graph_text(&event, &s, unix_ms() / 1000);
    ctx.out.verbatim("txt", graph.as_bytes());
}

/// The sparkline graph of LATENCY GRAPH: a header, 80 dashes, four rows of bars and
/// the age of each sample written downwards, 80 samples per block.
pub fn latency_graph_text(event: &str, s: &LatencySeries, now: u64) -> String {
    let values: Vec<u64> = s.samples.iter().map(|x| x.latency).collect();
    let labels: Vec<String> = s
        .samples
        .iter()
        .map(|x| {
            let e = now.saturating_sub(x.time);
            if e < 60 {
                format!("{e}s")
            } else if e < 3600 {
                format!("{}m", e / 60)
            } else if e < 86400 {
                format!("{}h", e / 3600)
            } else {
                format!("{}d", e / 86400)
            }
        })
        .collect();
    let min = values.iter().copied().min().unwrap_or(0);
    let max = values.iter().copied().max().unwrap_or(0);
    let mut g = format!(
        "{event} - high {max} ms, low {min} ms (all time high {} ms)\n",
        s.max
    );
    g.push_str(&"-".repeat(80));
    g.push('\n');
    let mut j = 0;
    while j < values.len() {
        let len = (values.len() - j).min(80);
        if j != 0 {
            g.push('\n');
        }
        sparkline_range(&mut g, &values, &labels, min, max, j, len);
        j += 80;
    }
    g
}

/// One block of a filled sparkline, 4 rows high, with labels below.
fn sparkline_range(
    g: &mut String,
    values: &[u64],
    labels: &[String],
    min: u64,
    max: u64,
    offset: usize,
    len: usize,
) {
    const FILL: &[u8] = b"_o#";
    const ROWS: i64 = 4;
    let steps = (FILL.len() as i64) * ROWS;
    let mut relmax = (max - min) as f64;
    if relmax == 0.0 {
        relmax = 1.0;
    }
    let mut row: i64 = 0;
    loop {
        let mut more = false;
        let mut chars = vec![b' '; len];
        for (j, c) in chars.iter_mut().enumerate() {
            let v = values[j + offset];
            let relval = (v - min) as f64;
            let step = (((relval * steps as f64) as i64) as f64 / relmax) as i64;
            let step = step.clamp(0, steps - 1);
            if row < ROWS {
                let idx = step - (ROWS - row - 1) * FILL.len() as i64;
                more = true;
                if (0..FILL.len() as i64).contains(&idx) {
                    *c = FILL[idx as usize];
                } else if idx >= FILL.len() as i64 {
                    *c = b'|';
                }
            } else {
                // One blank line between the bars and the labels.
                if row - ROWS < 1 {
                    more = true;
                    break;
                }
                let label = labels[j + offset].as_bytes();
                let at = (row - ROWS - 1) as usize;
                if label.len() > at {
                    more = true;
                    *c = label[at];
                }
            }
        }
        if !more {
            break;
        }
        row += 1;
        g.push_str(&String::from_utf8_lossy(&chars));
        g.push('\n');
    }
}

fn latency_doctor(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let (slower, max_len, threshold) = {
        let c = ctx.inst.config.read();
        (
            c.slowlog_log_slower_than,
            c.slowlog_max_len,
            c.latency_monitor_threshold,
        )
    };
    let events = ctx.inst.diag.latency.snapshot();
    let text = latency_report(&events, unix_ms() / 1000, slower, max_len, threshold);
    ctx.out.verbatim("txt", text.as_bytes());
}

/// LATENCY DOCTOR's report, with Redis's analysis of each event and its advice.
pub fn latency_report(
    events: &[(String, LatencySeries)],
    now: u64,
    slowlog_slower_than: i64,
    slowlog_max_len: u64,
    threshold: u64,
) -> String {
    if events.is_empty() && threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
    }
    let mut r = String::new();
    let mut advices = 0;
    let (mut slowlog_enabled, mut slowlog_tuning, mut slowlog_inspect) = (false, false, false);
    let (mut large_objects, mut scheduler, mut hz, mut mass_eviction) =
        (false, false, false, false);
    for (n, (event, s)) in events.iter().enumerate() {
        if n == 0 {
            r.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let samples = s.samples.len() as u64;
        let sum: u64 = s.samples.iter().map(|x| x.latency).sum();
        let avg = sum.checked_div(samples).unwrap_or(0);
        let period = match s.samples.iter().map(|x| x.time).min() {
            Some(oldest) => now.saturating_sub(oldest).max(1),
            None => 0,
        };
        let mad = s
            .samples
            .iter()
            .map(|x| (avg as i64 - x.latency as i64).unsigned_abs())
            .sum::<u64>()
            .checked_div(samples)
            .unwrap_or(0);
        r.push_str(&format!(
            "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
            n + 1,
            event,
            samples,
            avg,
            mad,
            period as f64 / samples.max(1) as f64,
            s.max
        ));
        match event.as_str() {
            "command" => {
                if slowlog_slower_than < 0 || slowlog_max_len == 0 {
                    slowlog_enabled = true;
                    advices += 1;
                } else if slowlog_slower_than / 1000 > threshold as i64 {
                    slowlog_tuning = true;
                    advices += 1;
                }
                slowlog_inspect = true;
                large_objects = true;
                advices += 2;
            }
            "fast-command" => {
                scheduler = true;
                advices += 1;
            }
            "expire-cycle" => {
                hz = true;
                large_objects = true;
                advices += 2;
            }
            "eviction-del" => {
                large_objects = true;
                advices += 1;
            }
            "eviction-cycle" => {
                mass_eviction = true;
                advices += 1;
            }
            _ => {}
        }
        r.push('\n');
    }
    if events.is_empty() && advices == 0 {
        r.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
    } else if advices == 0 {
        r.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
    } else {
        r.push_str("\nI have a few advices for you:\n\n");
        if slowlog_enabled {
            r.push_str(&format!("- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n", threshold * 1000));
        }
        if slowlog_tuning {
            r.push_str(&format!("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.\n", threshold * 1000));
        }
        if slowlog_inspect {
            r.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        }
        if scheduler {
            r.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
        }
        if hz {
            r.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
        }
        if large_objects {
            r.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
        }
        if mass_eviction {
            r.push_str("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
        }
    }
    r
}

fn latency_help(ctx: &mut Ctx, _argv: &[&[u8]]) {
    help(
        ctx,
        &[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
            "HELP",
            "    Prints this help.",
        ],
    );
}

// ---- MONITOR ----

fn monitor(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let info = &ctx.client.info;
    // Already monitoring: Redis ignores the command, without a reply.
    if info.monitor.swap(true, Relaxed) {
        return;
    }
    ctx.inst.diag.monitors.add(info.clone());
    ctx.out.ok();
}

// ---- MEMORY ----

/// MEMORY USAGE key [SAMPLES count]: the bytes the key is accounted for (its table
/// slot, key and value allocations), exact for every type, so SAMPLES changes nothing.
fn memory_usage(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut i = 3;
    while i < argv.len() {
        if argv[i].eq_ignore_ascii_case(b"samples") && i + 1 < argv.len() {
            match parse_i64(argv[i + 1]) {
                None => return ctx.error(errors::NOT_INTEGER),
                Some(n) if n < 0 => return ctx.error(errors::SYNTAX),
                Some(_) => {}
            }
            i += 2;
        } else {
            return ctx.error(errors::SYNTAX);
        }
    }
    let (db, now) = (ctx.db(), ctx.now_ms);
    match ctx.ks.get(db, argv[2], now).map(|e| e.memory_usage()) {
        Some(n) => ctx.out.int(n as i64),
        None => ctx.out.null(),
    }
}

fn memory_stats(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let inst = ctx.inst;
    let m = crate::families::server::memory_figures(inst);
    let peak = inst.note_memory_peak(m.allocated);
    let dataset = inst.ks.used_memory();
    let dbs = if ctx.ks.holds_all() {
        ctx.ks.db_info()
    } else {
        inst.ks.db_info()
    };
    let keys: usize = dbs.iter().map(|d| d.keys).sum();
    let clients: usize = inst
        .clients
        .lock()
        .values()
        .map(|c| c.outbox.len() + c.qbuf.load(Relaxed))
        .sum();
    let overhead = m.allocated.saturating_sub(dataset);
    let used_dbs: Vec<(usize, &engine::DbInfo)> =
        dbs.iter().enumerate().filter(|(_, d)| d.keys > 0).collect();
    let out = &mut *ctx.out;
    out.map(27 + used_dbs.len());
    let int = |out: &mut resp::ReplyWriter, k: &str, v: u64| {
        out.bulk_str(k);
        out.int(v as i64);
    };
    int(out, "peak.allocated", peak);
    int(out, "total.allocated", m.allocated);
    int(out, "startup.allocated", 0);
    int(out, "replication.backlog", 0);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", clients as u64);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", 0);
    int(out, "lua.caches", 0);
    int(out, "functions.caches", 0);
    for (i, d) in &used_dbs {
        out.bulk_str(&format!("db.{i}"));
        out.map(3);
        let slot = engine::value::ENTRY_OVERHEAD as u64;
        int(out, "overhead.hashtable.main", d.keys as u64 * slot);
        int(out, "overhead.hashtable.expires", d.expires as u64 * 16);
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", overhead);
    int(out, "keys.count", keys as u64);
    int(
        out,
        "keys.bytes-per-key",
        if keys > 0 { dataset / keys as u64 } else { 0 },
    );
    int(out, "dataset.bytes", dataset);
    let pct = |a: u64, b: u64| {
        if b > 0 {
            a as f64 * 100.0 / b as f64
        } else {
            0.0
        }
    };
    out.bulk_str("dataset.percentage");
    out.double(pct(dataset, m.allocated));
    out.bulk_str("peak.percentage");
    out.double(pct(m.allocated, peak));
    int(out, "allocator.allocated", m.allocated);
    int(out, "allocator.active", m.allocated);
    int(out, "allocator.resident", m.resident);
    let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 1.0 };
    out.bulk_str("allocator-fragmentation.ratio");
    out.double(1.0);
    int(out, "allocator-fragmentation.bytes", 0);
    out.bulk_str("allocator-rss.ratio");
    out.double(ratio(m.resident, m.allocated));
    int(
        out,
        "allocator-rss.bytes",
        m.resident.saturating_sub(m.allocated),
    );
    out.bulk_str("rss-overhead.ratio");
    out.double(1.0);
    int(out, "rss-overhead.bytes", 0);
    out.bulk_str("fragmentation");
    out.double(ratio(m.resident, m.allocated));
    int(
        out,
        "fragmentation.bytes",
        m.resident.saturating_sub(m.allocated),
    );
}

fn memory_doctor(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let m = crate::families::server::memory_figures(ctx.inst);
    let peak = ctx.inst.note_memory_peak(m.allocated);
    let text = memory_report(m.allocated, peak);
    ctx.out.verbatim("txt", text.as_bytes());
}

/// MEMORY DOCTOR's report from the used and peak memory (the checks that apply to
/// MiniRedis: an almost empty instance, and a past peak much above today's use).
pub fn memory_report(used: u64, peak: u64) -> String {
    if used < 5 * 1024 * 1024 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.".into();
    }
    if peak as f64 / used as f64 > 1.5 {
        return "Sam, I detected a few issues in this Redis instance memory implants:\n\n * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\nI'm here to keep you safe, Sam. I want to help you.\n".into();
    }
    "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.".into()
}

fn memory_malloc_stats(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let m = crate::families::server::memory_figures(ctx.inst);
    let text = format!(
        "___ Begin {} statistics ___\nallocated: {}\nresident: {}\n--- End {} statistics ---\n",
        m.allocator, m.allocated, m.resident, m.allocator
    );
    ctx.out.verbatim("txt", text.as_bytes());
}

/// MEMORY PURGE: the allocator gives back dirty pages on its own schedule; nothing to
/// do but answer as Redis does.
fn memory_purge(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.out.ok();
}

fn memory_help(ctx: &mut Ctx, _argv: &[&[u8]]) {
    help(
        ctx,
        &[
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Prints this help.",
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::LatencySample;
    use crate::families::util::testkit::Kit;

    fn series(v: &[(u64, u64)], max: u64) -> LatencySeries {
        LatencySeries {
            samples: v
                .iter()
                .map(|&(time, latency)| LatencySample { time, latency })
                .collect(),
            max,
        }
    }

    #[test]
    fn memory_usage_is_the_accounted_size() {
        let mut k = Kit::new();
        k.run("set k hello");
        let expected = {
            let mut l = k.inst.ks.lock_all();
            let n = l.get(0, b"k", k.now_ms()).map(|e| e.memory_usage());
            n.expect("present")
        };
        assert_eq!(k.run("memory usage k"), format!(":{expected}\r\n"));
        assert_eq!(
            k.run("memory usage k samples 0"),
            format!(":{expected}\r\n")
        );
        assert_eq!(k.run("memory usage nokey"), "$-1\r\n");
        assert_eq!(k.run("memory usage k samples -1"), "-ERR syntax error\r\n");
        assert_eq!(k.run("memory usage k samples"), "-ERR syntax error\r\n");
        assert_eq!(
            k.run("memory usage k samples x"),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert!(k
            .run("memory stats")
            .starts_with("*56\r\n$14\r\npeak.allocated\r\n"));
        assert!(memory_report(1000, 1000).starts_with("Hi Sam, this instance is empty"));
        assert!(memory_report(10 << 20, 20 << 20).contains("Peak memory"));
    }

    #[test]
    fn latencystats_reports_commands_seen() {
        let mut k = Kit::new();
        for _ in 0..5 {
            k.run("set a b");
        }
        k.inst
            .update_config(|c| c.latency_tracking_info_percentiles = vec![0.0, 50.0, 100.0]);
        let text = k.run("info latencystats");
        let line = text
            .lines()
            .find(|l| l.starts_with("latency_percentiles_usec_set:"))
            .unwrap_or_else(|| panic!("{text}"));
        let fields: Vec<&str> = line.split(':').nth(1).unwrap_or("").split(',').collect();
        assert_eq!(fields.len(), 3, "{line}");
        assert!(
            fields[0].starts_with("p0=") && fields[2].starts_with("p100="),
            "{line}"
        );
        // Values are microseconds with three decimals.
        assert!(
            fields[1]
                .split('=')
                .nth(1)
                .is_some_and(|v| v.len() >= 5 && v.as_bytes()[v.len() - 4] == b'.'),
            "{line}"
        );
        assert_eq!(
            k.inst
                .diag
                .histograms
                .get(crate::registry::registry().lookup(b"set").unwrap_or(0))
                .map(|h| h.total()),
            Some(5)
        );
        k.run("config resetstat");
        assert!(!k.run("info latencystats").contains("_set:"));
        k.run("config set latency-tracking no");
        k.run("get a");
        assert_eq!(k.run("info latencystats"), "$16\r\n# Latencystats\r\n\r\n");
    }

    #[test]
    fn graph_matches_redis_sparkline() {
        // Captured from redis-server 7.0 (DEBUG SLEEP 0.05, a second later 0.02).
        let g = latency_graph_text("command", &series(&[(99, 50), (100, 20)], 50), 100);
        assert_eq!(
            g,
            format!(
                "command - high 50 ms, low 20 ms (all time high 50 ms)\n{}\n# \n| \n| \n|_\n  \n10\nss\n",
                "-".repeat(80)
            )
        );
    }

    #[test]
    fn doctor_reports_like_redis() {
        let r = latency_report(&[], 0, 10000, 128, 0);
        assert!(r.starts_with("I'm sorry, Dave"));
        let r = latency_report(&[], 0, 10000, 128, 1);
        assert!(r.starts_with("Dave, no latency spike"));
        let ev = vec![("command".to_string(), series(&[(99, 50), (100, 20)], 50))];
        let r = latency_report(&ev, 100, 10000, 128, 1);
        assert!(r.contains("1. command: 2 latency spikes (average 35ms, mean deviation 15ms, period 0.50 sec). Worst all time event 50ms.\n"), "{r}");
        assert!(r.contains("'CONFIG SET slowlog-log-slower-than 1000'"));
    }

    #[test]
    fn slowlog_records_over_the_threshold() {
        let mut k = Kit::new();
        assert_eq!(k.run("slowlog len"), ":0\r\n");
        k.run("config set slowlog-log-slower-than 0");
        k.run("set a b");
        k.run("auth secret");
        // Two commands plus the CONFIG SET that enabled it.
        assert_eq!(k.run("slowlog len"), ":3\r\n");
        // The newest first: SLOWLOG LEN itself, then AUTH with its password hidden.
        let r = k.run("slowlog get 2");
        assert!(r.starts_with("*2\r\n*6\r\n:3\r\n"), "{r}");
        assert!(r.contains("$4\r\nauth\r\n$10\r\n(redacted)\r\n"), "{r}");
        assert_eq!(
            k.run("slowlog get -2"),
            "-ERR count should be greater than or equal to -1\r\n"
        );
        k.run("config set slowlog-log-slower-than -1");
        k.run("slowlog reset");
        k.run("set a b");
        assert_eq!(k.run("slowlog len"), ":0\r\n");
    }

    #[test]
    fn latency_monitor_records_slow_commands() {
        let mut k = Kit::new();
        k.run("config set latency-monitor-threshold 1");
        k.run("debug sleep 0.01");
        let r = k.run("latency latest");
        assert!(r.starts_with("*1\r\n*4\r\n$7\r\ncommand\r\n"), "{r}");
        assert!(k.run("latency history command").starts_with("*1\r\n*2\r\n"));
        assert_eq!(k.run("latency reset"), ":1\r\n");
        assert_eq!(k.run("latency latest"), "*0\r\n");
        assert_eq!(
            k.run("latency graph command"),
            "-ERR No samples available for event 'command'\r\n"
        );
    }
}
