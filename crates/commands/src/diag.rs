//! Diagnostics an instance keeps about the commands it runs: the slow log, the latency
//! monitor's events, per-command latency histograms (INFO latencystats) and the
//! MONITOR feed. Dispatch calls [`after_command`] once per executed command with the
//! duration it already measured; every part costs one relaxed load and a compare
//! when it is off or the command is fast.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::client::{Client, ClientInfo};
use crate::instance::{unix_ms, unix_us, Instance};
use crate::spec::{flags, CommandSpec};

/// What a replaced argument reads as in the slow log and the MONITOR feed.
pub const REDACTED: &[u8] = b"(redacted)";

/// Positions of arguments that must not be shown (passwords): AUTH's, HELLO's AUTH
/// pair, the value of a sensitive CONFIG SET parameter, as Redis 7.0 redacts them.
pub fn redacted_positions(spec: &CommandSpec, argv: &[&[u8]]) -> Vec<usize> {
    match spec.name {
        "auth" => (1..argv.len()).collect(),
        "hello" => {
            let mut v = Vec::new();
            let mut i = 2;
            while i < argv.len() {
                if argv[i].eq_ignore_ascii_case(b"auth") && i + 2 < argv.len() {
                    v.extend([i + 1, i + 2]);
                    i += 3;
                } else if argv[i].eq_ignore_ascii_case(b"setname") {
                    i += 2;
                } else {
                    i += 1;
                }
            }
            v
        }
        "config|set" => {
            let mut v = Vec::new();
            let mut i = 2;
            while i + 1 < argv.len() {
                if SENSITIVE_CONFIGS
                    .iter()
                    .any(|n| argv[i].eq_ignore_ascii_case(n.as_bytes()))
                {
                    v.push(i + 1);
                }
                i += 2;
            }
            v
        }
        _ => Vec::new(),
    }
}

/// Parameters whose values CONFIG SET hides from the slow log and MONITOR.
const SENSITIVE_CONFIGS: &[&str] = &["requirepass", "masterauth", "masteruser"];

// ---------------------------------------------------------------------------------
// Slow log

/// Most arguments an entry keeps; the last kept slot says how many more there were.
pub const SLOWLOG_MAX_ARGC: usize = 32;
/// Most bytes kept of one argument.
pub const SLOWLOG_MAX_ARG_BYTES: usize = 128;

#[derive(Clone, Debug)]
pub struct SlowEntry {
    pub id: u64,
    /// Unix seconds.
    pub time: u64,
    pub usec: u64,
    pub args: Vec<Vec<u8>>,
    pub peer: String,
    pub name: String,
}

#[derive(Debug, Default)]
pub struct SlowLog {
    inner: Mutex<SlowInner>,
}

#[derive(Debug, Default)]
struct SlowInner {
    next_id: u64,
    /// Newest first.
    entries: VecDeque<SlowEntry>,
}

impl SlowLog {
    /// Records a command that took `usec` (the caller checked the threshold).
    pub fn push(&self, info: &ClientInfo, argv: &[&[u8]], redact: &[usize], usec: u64, max: u64) {
        let keep = argv.len().min(SLOWLOG_MAX_ARGC);
        let mut args = Vec::with_capacity(keep);
        for (i, a) in argv.iter().enumerate().take(keep) {
            if argv.len() > SLOWLOG_MAX_ARGC && i == SLOWLOG_MAX_ARGC - 1 {
                args.push(
                    format!("... ({} more arguments)", argv.len() - SLOWLOG_MAX_ARGC + 1)
                        .into_bytes(),
                );
                break;
            }
            if redact.contains(&i) {
                args.push(REDACTED.to_vec());
            } else if a.len() > SLOWLOG_MAX_ARG_BYTES {
                let mut v = a[..SLOWLOG_MAX_ARG_BYTES].to_vec();
                let _ = write!(
                    Bytes(&mut v),
                    "... ({} more bytes)",
                    a.len() - SLOWLOG_MAX_ARG_BYTES
                );
                args.push(v);
            } else {
                args.push(a.to_vec());
            }
        }
        let name = info.name.lock().clone().unwrap_or_default();
        let mut s = self.inner.lock();
        let id = s.next_id;
        s.next_id += 1;
        s.entries.push_front(SlowEntry {
            id,
            time: unix_ms() / 1000,
            usec,
            args,
            peer: info.addr.clone(),
            name,
        });
        s.entries.truncate(max as usize);
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.inner.lock().entries.clear();
    }

    /// Trims to `max` entries (slowlog-max-len lowered).
    pub fn trim(&self, max: u64) {
        self.inner.lock().entries.truncate(max as usize);
    }

    /// The newest `count` entries, newest first.
    pub fn latest(&self, count: usize) -> Vec<SlowEntry> {
        self.inner
            .lock()
            .entries
            .iter()
            .take(count)
            .cloned()
            .collect()
    }
}

/// `write!` into a byte vector.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// Latency monitor

/// Samples kept per event (Redis's LATENCY_TS_LEN).
pub const LATENCY_TS_LEN: usize = 160;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencySample {
    /// Unix seconds.
    pub time: u64,
    /// Milliseconds.
    pub latency: u64,
}

#[derive(Clone, Debug, Default)]
pub struct LatencySeries {
    /// Oldest first, at most [`LATENCY_TS_LEN`].
    pub samples: VecDeque<LatencySample>,
    /// The highest latency ever recorded for the event.
    pub max: u64,
}

#[derive(Debug, Default)]
pub struct LatencyMonitor {
    /// Events in the order they were first seen.
    events: Mutex<Vec<(String, LatencySeries)>>,
}

impl LatencyMonitor {
    /// Records `ms` for `event` at the current second. Samples within one second are
    /// merged, keeping the highest.
    pub fn add(&self, event: &str, ms: u64) {
        let now = unix_ms() / 1000;
        let mut ev = self.events.lock();
        let series = match ev.iter().position(|(n, _)| n == event) {
            Some(i) => &mut ev[i].1,
            None => {
                ev.push((event.to_string(), LatencySeries::default()));
                match ev.last_mut() {
                    Some(e) => &mut e.1,
                    None => return,
                }
            }
        };
        series.max = series.max.max(ms);
        if let Some(last) = series.samples.back_mut() {
            if last.time == now {
                last.latency = last.latency.max(ms);
                return;
            }
        }
        series.samples.push_back(LatencySample {
            time: now,
            latency: ms,
        });
        if series.samples.len() > LATENCY_TS_LEN {
            series.samples.pop_front();
        }
    }

    /// Every event with its series.
    pub fn snapshot(&self) -> Vec<(String, LatencySeries)> {
        self.events.lock().clone()
    }

    pub fn series(&self, event: &str) -> Option<LatencySeries> {
        self.events
            .lock()
            .iter()
            .find(|(n, _)| n == event)
            .map(|(_, s)| s.clone())
    }

    /// Forgets the named events (all when `names` is empty); returns how many existed.
    pub fn reset(&self, names: &[String]) -> usize {
        let mut ev = self.events.lock();
        if names.is_empty() {
            let n = ev.len();
            ev.clear();
            return n;
        }
        let before = ev.len();
        ev.retain(|(n, _)| !names.contains(n));
        before - ev.len()
    }
}

// ---------------------------------------------------------------------------------
// Latency histograms (HdrHistogram with Redis's parameters: 1 ns to 1 s, two
// significant digits), one per command, allocated at its first call.

const HIST_SUB_BUCKET_COUNT: u64 = 256;
const HIST_SUB_BUCKET_HALF_MAGNITUDE: u32 = 7;
const HIST_SUB_BUCKET_HALF: u64 = 128;
pub const HIST_MIN_NS: u64 = 1;
pub const HIST_MAX_NS: u64 = 1_000_000_000;
/// Buckets needed to reach HIST_MAX_NS: 256 << 22 > 1e9.
const HIST_BUCKETS: u32 = 23;
const HIST_COUNTS: usize = ((HIST_BUCKETS + 1) as usize) << HIST_SUB_BUCKET_HALF_MAGNITUDE;

#[derive(Debug)]
pub struct Histogram {
    counts: Box<[AtomicU64]>,
    total: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: (0..HIST_COUNTS).map(|_| AtomicU64::new(0)).collect(),
            total: AtomicU64::new(0),
        }
    }
}

fn bucket_index(v: u64) -> u32 {
    (64 - (v | (HIST_SUB_BUCKET_COUNT - 1)).leading_zeros()) - 8
}

fn counts_index(v: u64) -> usize {
    let b = bucket_index(v);
    let sub = v >> b;
    // In the first bucket `sub` may be below the half count: the sum is what counts.
    ((((b + 1) as u64) << HIST_SUB_BUCKET_HALF_MAGNITUDE) + sub - HIST_SUB_BUCKET_HALF) as usize
}

fn value_from_index(i: usize) -> u64 {
    let mut bucket = (i >> HIST_SUB_BUCKET_HALF_MAGNITUDE) as i64 - 1;
    let mut sub = (i as u64 & (HIST_SUB_BUCKET_HALF - 1)) + HIST_SUB_BUCKET_HALF;
    if bucket < 0 {
        sub -= HIST_SUB_BUCKET_HALF;
        bucket = 0;
    }
    sub << bucket
}

fn lowest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    (v >> b) << b
}

fn highest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    lowest_equivalent(v) + (1u64 << b) - 1
}

impl Histogram {
    /// Records one duration in nanoseconds (clamped to 1 ns ..= 1 s, as Redis does).
    pub fn record(&self, ns: u64) {
        self.record_n(ns, 1);
    }

    /// Records `n` durations that fall in the same bucket as `ns`.
    pub fn record_n(&self, ns: u64, n: u64) {
        let v = ns.clamp(HIST_MIN_NS, HIST_MAX_NS);
        if let Some(c) = self.counts.get(counts_index(v)) {
            c.fetch_add(n, Relaxed);
            self.total.fetch_add(n, Relaxed);
        }
    }

    pub fn total(&self) -> u64 {
        self.total.load(Relaxed)
    }

    /// The value at `percentile` (0..=100) in nanoseconds, as hdr_value_at_percentile
    /// reports it: the highest value equivalent to the one reached.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let p = percentile.min(100.0);
        let total = self.total();
        let want = (((p / 100.0) * total as f64) + 0.5) as u64;
        let want = want.max(1);
        let mut seen = 0;
        let mut at = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Relaxed);
            if seen >= want {
                at = value_from_index(i);
                break;
            }
        }
        if percentile == 0.0 {
            lowest_equivalent(at)
        } else {
            highest_equivalent(at)
        }
    }
}

/// One lazily allocated histogram per command id; the table itself is allocated at
/// the first recording, so the many databases that never serve a command cost one
/// pointer here.
#[derive(Debug, Default)]
pub struct Histograms {
    by_cmd: OnceLock<Box<[OnceLock<Histogram>]>>,
    commands: usize,
    /// Bumped by CONFIG RESETSTAT: histograms whose generation is older read as empty.
    reset: Mutex<()>,
}

impl Histograms {
    pub fn new(commands: usize) -> Self {
        Histograms {
            by_cmd: OnceLock::new(),
            commands,
            reset: Mutex::new(()),
        }
    }

    pub fn record(&self, id: u32, ns: u64) {
        self.record_n(id, ns, 1);
    }

    pub fn record_n(&self, id: u32, ns: u64, n: u64) {
        let table = self
            .by_cmd
            .get_or_init(|| (0..self.commands).map(|_| OnceLock::new()).collect());
        if let Some(h) = table.get(id as usize) {
            h.get_or_init(Histogram::default).record_n(ns, n);
        }
    }

    pub fn get(&self, id: u32) -> Option<&Histogram> {
        self.by_cmd
            .get()?
            .get(id as usize)
            .and_then(|h| h.get())
            .filter(|h| h.total() > 0)
    }

    /// Empties every histogram (CONFIG RESETSTAT).
    pub fn reset(&self) {
        let _g = self.reset.lock();
        let Some(table) = self.by_cmd.get() else {
            return;
        };
        for h in table.iter().filter_map(|h| h.get()) {
            for c in h.counts.iter() {
                c.store(0, Relaxed);
            }
            h.total.store(0, Relaxed);
        }
    }
}

// ---------------------------------------------------------------------------------
// MONITOR

/// The connections in MONITOR mode of one instance.
#[derive(Debug, Default)]
pub struct Monitors {
    count: AtomicUsize,
    list: Mutex<Vec<Arc<ClientInfo>>>,
}

impl Monitors {
    #[inline]
    pub fn any(&self) -> bool {
        self.count.load(Relaxed) > 0
    }

    pub fn add(&self, info: Arc<ClientInfo>) {
        let mut l = self.list.lock();
        if !l.iter().any(|c| c.id == info.id) {
            l.push(info);
        }
        self.count.store(l.len(), Relaxed);
    }

    pub fn remove(&self, id: u64) {
        let mut l = self.list.lock();
        l.retain(|c| c.id != id);
        self.count.store(l.len(), Relaxed);
    }

    /// Sends one line to every monitor. A monitor that cannot keep up is disconnected.
    pub fn feed(&self, line: &[u8]) {
        let l = self.list.lock();
        for m in l.iter() {
            if !m.outbox.push(line) {
                m.kill();
            }
        }
    }
}

/// Appends `a` the way Redis's sdscatrepr quotes a string.
pub fn repr(out: &mut Vec<u8>, a: &[u8]) {
    out.push(b'"');
    for &c in a {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => {
                let _ = write!(Bytes(out), "\\x{c:02x}");
            }
        }
    }
    out.push(b'"');
}

/// One MONITOR line: `+<sec>.<usec> [<db> <addr>] "arg" ...\r\n`.
pub fn monitor_line(db: usize, origin: &str, argv: &[&[u8]], redact: &[usize]) -> Vec<u8> {
    let us = unix_us();
    let mut line = Vec::with_capacity(64 + argv.iter().map(|a| a.len() + 3).sum::<usize>());
    let _ = write!(
        Bytes(&mut line),
        "+{}.{:06} [{} {}] ",
        us / 1_000_000,
        us % 1_000_000,
        db,
        origin
    );
    for (i, a) in argv.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        if redact.contains(&i) {
            repr(&mut line, REDACTED);
        } else {
            repr(&mut line, a);
        }
    }
    line.extend_from_slice(b"\r\n");
    line
}

// ---------------------------------------------------------------------------------
// The hook

/// Everything an instance keeps for diagnostics.
#[derive(Debug)]
pub struct Diag {
    pub slowlog: SlowLog,
    pub latency: LatencyMonitor,
    pub histograms: Histograms,
    pub monitors: Monitors,
}

impl Diag {
    pub fn new(commands: usize) -> Self {
        Diag {
            slowlog: SlowLog::default(),
            latency: LatencyMonitor::default(),
            histograms: Histograms::new(commands),
            monitors: Monitors::default(),
        }
    }
}

/// Called by dispatch after a command ran (not after one refused before running),
/// with the time its handler took.
#[inline]
pub fn after_command(
    inst: &Instance,
    client: &mut Client,
    id: u32,
    spec: &CommandSpec,
    argv: &[&[u8]],
    usec: u64,
) {
    let limits = &inst.limits;
    let slower = limits.slowlog_slower_than();
    let slow = slower >= 0 && usec >= slower as u64 && !spec.has(flags::SKIP_SLOWLOG);
    let threshold = limits.latency_threshold_ms();
    let latent = threshold > 0 && usec / 1000 >= threshold;
    if limits.latency_tracking() {
        client.latency_samples.push((id, usec));
    }
    let monitored = inst.diag.monitors.any() && !spec.has(flags::SKIP_MONITOR | flags::ADMIN);
    if !(slow || latent || monitored) {
        return;
    }
    let redact = redacted_positions(spec, argv);
    if slow {
        inst.diag
            .slowlog
            .push(&client.info, argv, &redact, usec, limits.slowlog_max_len());
    }
    if latent {
        let event = if spec.has(flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        inst.diag.latency.add(event, usec / 1000);
    }
    if monitored {
        let origin = if client.script_caller {
            "lua"
        } else {
            client.info.addr.as_str()
        };
        let line = monitor_line(client.db, origin, argv, &redact);
        inst.diag.monitors.feed(&line);
    }
}

/// Moves a connection's latency samples into the instance's histograms (once per
/// batch, with the command counters).
pub fn flush_samples(inst: &Instance, client: &mut Client) {
    // A pipeline of one command mostly lands in a few buckets: count them here and
    // write each shared counter once.
    let mut runs: Vec<(u32, usize, u64, u64)> = Vec::new();
    for (id, usec) in client.latency_samples.drain(..) {
        let ns = usec.saturating_mul(1000).clamp(HIST_MIN_NS, HIST_MAX_NS);
        let bucket = counts_index(ns);
        let full = runs.len() >= 64;
        match runs.iter_mut().find(|r| r.0 == id && r.1 == bucket) {
            Some(r) => r.3 += 1,
            // Too varied to be worth counting: record directly.
            None if full => inst.diag.histograms.record(id, ns),
            None => runs.push((id, bucket, ns, 1)),
        }
    }
    for (id, _, ns, n) in runs {
        inst.diag.histograms.record_n(id, ns, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_matches_hdr_for_redis_parameters() {
        // 1 us = 1000 ns: bucket of resolution 4 starting at 1000.
        assert_eq!(highest_equivalent(1000), 1003);
        assert_eq!(highest_equivalent(1), 1);
        assert_eq!(highest_equivalent(255), 255);
        assert_eq!(highest_equivalent(256), 257);
        let h = Histogram::default();
        for _ in 0..99 {
            h.record(1000);
        }
        h.record(5000);
        assert_eq!(h.total(), 100);
        assert_eq!(h.value_at_percentile(50.0), 1003);
        assert_eq!(h.value_at_percentile(99.0), 1003);
        assert_eq!(h.value_at_percentile(99.9), highest_equivalent(5000));
        assert_eq!(highest_equivalent(5000), 5023);
        // Clamped at both ends.
        h.record(0);
        h.record(u64::MAX);
        assert_eq!(
            h.value_at_percentile(100.0),
            highest_equivalent(HIST_MAX_NS)
        );
        for v in [1u64, 300, 1000, 77_777, 999_999_999, HIST_MAX_NS] {
            let i = counts_index(v);
            assert!(i < HIST_COUNTS, "{v}");
            assert_eq!(value_from_index(i), lowest_equivalent(v), "{v}");
        }
    }

    #[test]
    fn slowlog_truncates_like_redis() {
        let log = SlowLog::default();
        let info = ClientInfo::new(1, "1.2.3.4:5".into(), "x".into());
        let many: Vec<Vec<u8>> = (0..41).map(|i| i.to_string().into_bytes()).collect();
        let argv: Vec<&[u8]> = many.iter().map(|a| a.as_slice()).collect();
        log.push(&info, &argv, &[], 7, 128);
        let long = vec![b'x'; 200];
        log.push(&info, &[b"set", b"k", &long], &[2], 1, 128);
        log.push(&info, &[b"set", b"k", &long], &[], 1, 128);
        let e = log.latest(10);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].id, 2);
        assert_eq!(e[0].args[2].len(), 128 + "... (72 more bytes)".len());
        assert!(e[0].args[2].ends_with(b"... (72 more bytes)"));
        assert_eq!(e[1].args[2], REDACTED);
        assert_eq!(e[2].args.len(), 32);
        assert_eq!(e[2].args[31], b"... (10 more arguments)");
        assert_eq!(e[2].args[30], b"30");
        assert_eq!(e[2].peer, "1.2.3.4:5");
        log.trim(1);
        assert_eq!(log.len(), 1);
        log.reset();
        assert!(log.is_empty());
    }

    #[test]
    fn monitor_lines_quote_like_sdscatrepr() {
        let l = monitor_line(3, "127.0.0.1:5", &[b"set", b"a b", b"\x01\xff\"\\\n"], &[]);
        let s = String::from_utf8(l).expect("ascii");
        let (_, rest) = s.split_once(' ').expect("time");
        assert_eq!(
            rest,
            "[3 127.0.0.1:5] \"set\" \"a b\" \"\\x01\\xff\\\"\\\\\\n\"\r\n"
        );
        assert!(s.starts_with('+'));
        let l = monitor_line(0, "lua", &[b"auth", b"pw"], &[1]);
        assert!(String::from_utf8_lossy(&l).ends_with("[0 lua] \"auth\" \"(redacted)\"\r\n"));
    }

    #[test]
    fn latency_events_merge_within_a_second_and_keep_the_max() {
        let m = LatencyMonitor::default();
        m.add("command", 5);
        m.add("command", 3);
        m.add("fast-command", 1);
        let s = m.series("command").expect("recorded");
        assert_eq!(s.samples.len(), 1);
        assert_eq!(s.samples[0].latency, 5);
        assert_eq!(s.max, 5);
        assert_eq!(m.snapshot().len(), 2);
        assert_eq!(m.reset(&["command".into(), "nope".into()]), 1);
        assert_eq!(m.reset(&[]), 1);
    }
}
