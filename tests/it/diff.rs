//! Differential tests: every case file under `tests/diff/cases/` is run line by line
//! against a real `redis-server` (the reference) and the subject (MiniRedis, or a
//! second Redis when `MINIREDIS_SUBJECT=redis`), and the replies must match.
//!
//! # Case-file format
//!
//! One command per line, split with redis-cli's quoting rules (`"a b"`, `'it\'s'`,
//! `"\x00\n"`; see `miniredis_tests::quote`). Blank lines and lines starting with `#`
//! are ignored. A line starting with `@` is a directive. Directives marked *next* apply
//! to the next command only and can be stacked; the others act where they stand.
//!
//! | directive | scope | meaning |
//! | --- | --- | --- |
//! | `@requires <feature>` | file | run the file only when the subject has `<feature>` (see below); otherwise print a SKIP line |
//! | `@sort` | next | compare the reply as an unordered collection (top-level elements of an array/set/map) |
//! | `@sort-deep` | next | like `@sort`, at every nesting level |
//! | `@type-only` | next | compare only the reply's frame type (TIME, RANDOMKEY, CLIENT ID, ...) |
//! | `@approx <n>` | next | integers (anywhere in the reply) may differ by up to `n` (TTL, PTTL, ...) |
//! | `@error-prefix` | next | if Redis replies with an error, only its first word (`ERR`, `WRONGTYPE`) must match |
//! | `@ignore <k1,k2,...>` | next | drop these keys (and their values) from every map in the reply, RESP3 maps and RESP2 flat key/value arrays, at any depth |
//! | `@fields` | next | the reply is `key=value ...` text (CLIENT INFO/LIST): compare the keys of each line, not the values |
//! | `@differ <reason>` | next | a known, intentional difference: only check that both sides replied (any frame), and print the reason |
//! | `@scan` | next | the command is a SCAN-family call with cursor `0`: iterate it to the end on each side and compare the union of the returned elements as a set |
//! | `@noreply` | next | the command sends no reply (CLIENT REPLY OFF/SKIP): do not read one |
//! | `@resp3` / `@resp2` | here | send `HELLO 3` / `HELLO 2` on the current connection of both sides (both must succeed) |
//! | `@conn <name>` | here | switch to connection `<name>` (opened on first use on both sides); the first is `main` |
//! | `@sleep <ms>` | here | wait, e.g. for a key to expire |
//! | `@read` | here | send nothing: read the next frame on the current connection of both sides and compare it (a pub/sub message pushed to a subscriber, the second confirmation of `SUBSCRIBE a b`); the *next* directives above it apply |
//!
//! Comparison is exact on frame type and value, and for errors the full message. A
//! closed connection and a missing reply (timeout) are outcomes too and are compared;
//! a side whose connection closed or timed out reconnects for the next command.
//!
//! # Requirements
//!
//! `@requires types` marks a file needing the list/hash/set/sorted-set types (for
//! WRONGTYPE cases). The harness probes the subject: the requirement is met when
//! `LPUSH`, `HSET`, `SADD` and `ZADD` are all known commands. An unmet requirement
//! skips the file with a SKIP line on stderr (never silently); set
//! `DIFF_STRICT=1` to make it a failure instead.
//!
//! # Running
//!
//! Each file is one test (`cargo test -p miniredis-tests --test it diff::`) on a fresh,
//! FLUSHALL'd server pair. `DIFF_SHOW=1` prints every command with both replies. A new
//! case file must be added to the `cases!` list below (a test checks that).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use miniredis_tests::{
    note, raw::RawClient, split_args, start_subject, subject::test_config, RedisServer, Reply,
    Subject,
};
use resp::Frame;

/// How long a reply may take (DEBUG SLEEP 0, KEYS on small data sets: milliseconds).
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Most SCAN round trips one `@scan` line may take on one side.
const MAX_SCAN_CALLS: usize = 10_000;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_case_file(concat!(stringify!($name), ".txt"));
            }
        )*
        /// Every case file that has a test.
        const LISTED: &[&str] = &[$(concat!(stringify!($name), ".txt")),*];
    };
}

cases!(
    strings_set,
    strings_get,
    strings_multi,
    strings_range,
    strings_incr,
    strings_lcs,
    keys_basic,
    keys_scan,
    keys_rename_copy,
    keys_expire,
    keys_db,
    keys_object,
    conn_basic,
    conn_auth,
    conn_hello,
    conn_client,
    server_config,
    server_maxmemory,
    server_misc,
    server_command,
    resp3,
    hashes_basic,
    hashes_encoding,
    hashes_incr,
    hashes_rand_scan,
    sets_basic,
    sets_algebra,
    sets_random_scan,
    types_generic,
    zset_add,
    zset_range,
    zset_remove_pop,
    zset_setops,
    zset_misc,
    zset_resp3,
    geo,
    zset_blocking,
    zset_sets,
    streams_basic,
    streams_trim,
    streams_groups,
    streams_claim,
    streams_read,
    bitmaps_bits,
    bitmaps_bitop,
    bitmaps_bitfield,
    bitmaps_types,
    bitmaps_random,
    hll_basic,
    hll_dense,
    lists,
    lists_errors,
    lists_types,
    lists_blocking,
    multi_basic,
    scripting_eval,
    scripting_script,
    scripting_function,
    scripting_libs,
    multi_watch,
    multi_types,
    pubsub_basic,
    pubsub_resp3,
    tracking,
    pubsub_keyspace,
    diag_slowlog,
    diag_latency,
    diag_memory,
    acl_users,
    acl_perms,
);

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("diff/cases")
}

#[test]
fn every_case_file_is_listed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(cases_dir())
        .expect("reading tests/diff/cases")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = LISTED.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every tests/diff/cases/*.txt needs an entry in the cases! list of tests/it/diff.rs"
    );
}

#[test]
fn parser_rejects_bad_directives() {
    assert!(parse("x.txt", "@bogus\nPING\n").is_err());
    assert!(
        parse("x.txt", "@sort\n").is_err(),
        "a dangling directive is an error"
    );
    assert!(parse("x.txt", "@approx x\nTTL k\n").is_err());
    assert!(parse("x.txt", "SET \"unbalanced\n").is_err());
    assert!(
        parse("x.txt", "PING\n@requires types\n").is_err(),
        "@requires goes first"
    );
    let f = parse(
        "x.txt",
        "# c\n\n@requires types\n@sort\n@approx 2\nKEYS *\n@sleep 5\n",
    )
    .expect("valid file");
    assert_eq!(f.requires, vec!["types".to_string()]);
    assert_eq!(f.steps.len(), 2);
    let f = parse("x.txt", "SUBSCRIBE a b\n@sort\n@read\n").expect("@read");
    assert!(matches!(&f.steps[1], Step::Read { mode, .. } if mode.sort == Sort::Top));
}

#[test]
fn comparison_catches_differences() {
    let b = |s: &str| Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()));
    let e = |s: &str| Frame::Error(Bytes::copy_from_slice(s.as_bytes()));
    let m = Mode::default();
    let r = |f: Frame| Reply::Frame(f);
    assert!(compare(&m, &r(b("a")), &r(b("a"))).is_ok());
    assert!(compare(&m, &r(b("a")), &r(b("b"))).is_err());
    assert!(compare(&m, &r(b("a")), &r(Frame::Simple(Bytes::from_static(b"a")))).is_err());
    assert!(compare(&m, &r(e("ERR x")), &r(e("ERR y"))).is_err());
    assert!(compare(&m, &r(Frame::Integer(1)), &Reply::Closed).is_err());
    let prefix = Mode {
        error_prefix: true,
        ..Mode::default()
    };
    assert!(compare(&prefix, &r(e("ERR x")), &r(e("ERR y"))).is_ok());
    assert!(compare(&prefix, &r(e("ERR x")), &r(e("WRONGTYPE x"))).is_err());
    let sorted = Mode {
        sort: Sort::Top,
        ..Mode::default()
    };
    let arr = |v: &[&str]| Frame::Array(v.iter().map(|s| b(s)).collect());
    assert!(compare(&sorted, &r(arr(&["a", "b"])), &r(arr(&["b", "a"]))).is_ok());
    assert!(compare(&m, &r(arr(&["a", "b"])), &r(arr(&["b", "a"]))).is_err());
    assert!(compare(&sorted, &r(arr(&["a", "b"])), &r(arr(&["b", "b"]))).is_err());
    let approx = Mode {
        approx: Some(2),
        ..Mode::default()
    };
    assert!(compare(&approx, &r(Frame::Integer(100)), &r(Frame::Integer(98))).is_ok());
    assert!(compare(&approx, &r(Frame::Integer(100)), &r(Frame::Integer(97))).is_err());
    let type_only = Mode {
        type_only: true,
        ..Mode::default()
    };
    assert!(compare(&type_only, &r(b("x")), &r(b("y"))).is_ok());
    assert!(compare(&type_only, &r(b("x")), &r(Frame::NullBulk)).is_err());
    let fields = Mode {
        fields: true,
        ..Mode::default()
    };
    assert!(compare(&fields, &r(b("id=1 name=a\n")), &r(b("id=7 name=\n"))).is_ok());
    assert!(compare(&fields, &r(b("id=1 name=a\n")), &r(b("id=7\n"))).is_err());
    let ignore = Mode {
        ignore: vec![b"version".to_vec()],
        ..Mode::default()
    };
    let hello = |v: &str| arr(&["server", "redis", "version", v]);
    assert!(compare(&ignore, &r(hello("7.0.15")), &r(hello("0.1.0"))).is_ok());
    assert!(compare(&m, &r(hello("7.0.15")), &r(hello("0.1.0"))).is_err());
}

// ---------------------------------------------------------------------------------
// Parsing case files

#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Sort {
    #[default]
    None,
    Top,
    Deep,
}

/// How to compare one command's replies.
#[derive(Clone, Debug, Default)]
struct Mode {
    sort: Sort,
    type_only: bool,
    approx: Option<i64>,
    error_prefix: bool,
    ignore: Vec<Vec<u8>>,
    fields: bool,
    differ: Option<String>,
    scan: bool,
    noreply: bool,
}

#[derive(Debug)]
enum Step {
    Command {
        line: usize,
        text: String,
        args: Vec<Vec<u8>>,
        mode: Mode,
    },
    Hello {
        line: usize,
        proto: u8,
    },
    Conn(String),
    Sleep(u64),
    /// Read one more frame on the current connection (no command sent).
    Read {
        line: usize,
        mode: Mode,
    },
}

#[derive(Debug)]
struct CaseFile {
    requires: Vec<String>,
    steps: Vec<Step>,
}

fn parse(name: &str, text: &str) -> Result<CaseFile, String> {
    let mut requires = Vec::new();
    let mut steps = Vec::new();
    let mut pending = Mode::default();
    let mut pending_since: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        let at = |msg: String| format!("{name}:{line}: {msg}");
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some(d) = l.strip_prefix('@') {
            let (word, rest) = d.split_once(char::is_whitespace).unwrap_or((d, ""));
            let rest = rest.trim();
            let mut next = true;
            match word {
                "requires" => {
                    if !steps.is_empty() || pending_since.is_some() {
                        return Err(at("@requires must come before any command".into()));
                    }
                    if rest.is_empty() {
                        return Err(at("@requires needs a feature name".into()));
                    }
                    requires.push(rest.to_string());
                    next = false;
                }
                "sort" => pending.sort = Sort::Top,
                "sort-deep" => pending.sort = Sort::Deep,
                "type-only" => pending.type_only = true,
                "error-prefix" => pending.error_prefix = true,
                "fields" => pending.fields = true,
                "scan" => pending.scan = true,
                "noreply" => pending.noreply = true,
                "approx" => {
                    let n: i64 = rest
                        .parse()
                        .map_err(|_| at(format!("@approx needs an integer, got {rest:?}")))?;
                    pending.approx = Some(n);
                }
                "ignore" => {
                    if rest.is_empty() {
                        return Err(at("@ignore needs comma-separated keys".into()));
                    }
                    pending.ignore = rest
                        .split(',')
                        .map(|k| k.trim().as_bytes().to_vec())
                        .collect();
                }
                "differ" => {
                    if rest.is_empty() {
                        return Err(at("@differ needs a reason".into()));
                    }
                    pending.differ = Some(rest.to_string());
                }
                "resp2" | "resp3" => {
                    steps.push(Step::Hello {
                        line,
                        proto: if word == "resp3" { 3 } else { 2 },
                    });
                    next = false;
                }
                "conn" => {
                    if rest.is_empty() || rest.contains(char::is_whitespace) {
                        return Err(at("@conn needs one connection name".into()));
                    }
                    steps.push(Step::Conn(rest.to_string()));
                    next = false;
                }
                "read" => {
                    steps.push(Step::Read {
                        line,
                        mode: std::mem::take(&mut pending),
                    });
                    pending_since = None;
                    next = false;
                }
                "sleep" => {
                    let ms: u64 = rest
                        .parse()
                        .map_err(|_| at(format!("@sleep needs milliseconds, got {rest:?}")))?;
                    steps.push(Step::Sleep(ms));
                    next = false;
                }
                other => return Err(at(format!("unknown directive @{other}"))),
            }
            if next {
                pending_since.get_or_insert(line);
            }
            continue;
        }
        let args = split_args(l).map_err(at)?;
        let mode = std::mem::take(&mut pending);
        pending_since = None;
        if mode.scan && args.len() < 2 {
            return Err(at("@scan needs a SCAN-family command".into()));
        }
        steps.push(Step::Command {
            line,
            text: l.to_string(),
            args,
            mode,
        });
    }
    if let Some(l) = pending_since {
        return Err(format!("{name}:{l}: directive without a command after it"));
    }
    Ok(CaseFile { requires, steps })
}

// ---------------------------------------------------------------------------------
// Requirements

/// Whether the subject has `feature`; `Err` explains an unknown feature name.
fn requirement_met(feature: &str, subject: &Subject) -> Result<(bool, String), String> {
    match feature {
        "types" => {
            let mut c = subject.client();
            c.set_read_timeout(REPLY_TIMEOUT);
            let probes: [&[&[u8]]; 4] = [
                &[b"LPUSH", b"__diff_probe_l", b"x"],
                &[b"HSET", b"__diff_probe_h", b"f", b"v"],
                &[b"SADD", b"__diff_probe_s", b"m"],
                &[b"ZADD", b"__diff_probe_z", b"1", b"m"],
            ];
            for p in probes {
                let r = c.request(p);
                let unknown = match &r {
                    Reply::Frame(Frame::Error(e)) => e.starts_with(b"ERR unknown command"),
                    Reply::Frame(_) => false,
                    _ => true,
                };
                if unknown {
                    let cmd = String::from_utf8_lossy(p[0]).into_owned();
                    return Ok((false, format!("{} answered {cmd} with {r}", subject.name())));
                }
            }
            let _ = c.request(&[
                b"DEL",
                b"__diff_probe_l",
                b"__diff_probe_h",
                b"__diff_probe_s",
                b"__diff_probe_z",
            ]);
            Ok((true, String::new()))
        }
        other => Err(format!(
            "unknown @requires feature `{other}` (known: types)"
        )),
    }
}

// ---------------------------------------------------------------------------------
// Running

/// One connection on each side.
struct ConnPair {
    reference: Option<RawClient>,
    subject: Option<RawClient>,
}

struct Pair {
    reference: RedisServer,
    subject: Subject,
    conns: HashMap<String, ConnPair>,
    current: String,
}

fn connect(addr: std::net::SocketAddr) -> Option<RawClient> {
    let mut c = RawClient::connect(addr).ok()?;
    c.set_read_timeout(REPLY_TIMEOUT);
    Some(c)
}

impl Pair {
    fn conn(&mut self) -> &mut ConnPair {
        let (ra, sa) = (self.reference.addr(), self.subject.addr());
        let cp = self
            .conns
            .entry(self.current.clone())
            .or_insert_with(|| ConnPair {
                reference: None,
                subject: None,
            });
        if cp.reference.is_none() {
            cp.reference = connect(ra);
        }
        if cp.subject.is_none() {
            cp.subject = connect(sa);
        }
        cp
    }

    /// Sends `args` on both sides and returns (reference, subject) replies.
    fn both(&mut self, args: &[Vec<u8>], noreply: bool) -> (Reply, Reply) {
        let cp = self.conn();
        let r = one(&mut cp.reference, args, noreply);
        let s = one(&mut cp.subject, args, noreply);
        (r, s)
    }

    /// Reads the next frame on both sides without sending anything.
    fn both_read(&mut self) -> (Reply, Reply) {
        let cp = self.conn();
        (read_one(&mut cp.reference), read_one(&mut cp.subject))
    }

    fn both_scan(&mut self, args: &[Vec<u8>]) -> (Reply, Reply) {
        let cp = self.conn();
        (
            scan_all(&mut cp.reference, args),
            scan_all(&mut cp.subject, args),
        )
    }
}

/// Sends one command on one side; a dead connection is replaced for the next command.
fn one(conn: &mut Option<RawClient>, args: &[Vec<u8>], noreply: bool) -> Reply {
    let Some(c) = conn.as_mut() else {
        return Reply::Closed;
    };
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    if noreply {
        return match c.send(&refs) {
            Ok(()) => Reply::Frame(Frame::Simple(Bytes::from_static(b"(no reply expected)"))),
            Err(_) => {
                *conn = None;
                Reply::Closed
            }
        };
    }
    let r = c.request(&refs);
    if matches!(r, Reply::Closed | Reply::Timeout | Reply::Malformed(_)) {
        *conn = None;
    }
    r
}

/// Reads one frame on one side; a dead connection is replaced for the next command.
fn read_one(conn: &mut Option<RawClient>) -> Reply {
    let Some(c) = conn.as_mut() else {
        return Reply::Closed;
    };
    let r = c.read_reply();
    if matches!(r, Reply::Closed | Reply::Timeout | Reply::Malformed(_)) {
        *conn = None;
    }
    r
}

/// Runs a SCAN-family command from cursor 0 to the end; the reply is the sorted,
/// de-duplicated union of the elements (pairs for HSCAN/ZSCAN), or the first error.
fn scan_all(conn: &mut Option<RawClient>, args: &[Vec<u8>]) -> Reply {
    let cursor_at = if args[0].eq_ignore_ascii_case(b"SCAN") {
        1
    } else {
        2
    };
    let pairs = args[0].eq_ignore_ascii_case(b"HSCAN") || args[0].eq_ignore_ascii_case(b"ZSCAN");
    let mut args = args.to_vec();
    let mut seen: Vec<Frame> = Vec::new();
    for _ in 0..MAX_SCAN_CALLS {
        let r = one(conn, &args, false);
        let Reply::Frame(Frame::Array(parts)) = &r else {
            return r;
        };
        let [cursor, Frame::Array(items)] = parts.as_slice() else {
            return Reply::Malformed(format!("SCAN reply is not [cursor, [elements]]: {r}"));
        };
        let Some(next) = cursor.as_bytes() else {
            return Reply::Malformed(format!("SCAN cursor is not a string: {r}"));
        };
        if pairs {
            for kv in items.chunks(2) {
                seen.push(Frame::Array(kv.to_vec()));
            }
        } else {
            seen.extend(items.iter().cloned());
        }
        if next == b"0" {
            seen.sort_by_key(|f| f.to_vec());
            seen.dedup();
            return Reply::Frame(Frame::Array(seen));
        }
        args[cursor_at] = next.to_vec();
    }
    Reply::Malformed(format!("SCAN did not finish within {MAX_SCAN_CALLS} calls"))
}

/// Progress lines that only matter when watching a run (with --nocapture they show).
fn progress(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn show_enabled() -> bool {
    std::env::var_os("DIFF_SHOW").is_some_and(|v| v != "0")
}

fn run_case_file(name: &str) {
    let path = cases_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let case = parse(name, &text).unwrap_or_else(|e| panic!("{e}"));
    let subject = start_subject(test_config());
    for feature in &case.requires {
        match requirement_met(feature, &subject) {
            Ok((true, _)) => {}
            Ok((false, why)) => {
                let msg = format!("diff: SKIP {name}: requirement `{feature}` unmet ({why})");
                if std::env::var_os("DIFF_STRICT").is_some_and(|v| v != "0") {
                    panic!("{msg}; DIFF_STRICT is set");
                }
                note(&msg);
                return;
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    let mut pair = Pair {
        reference: RedisServer::start(),
        subject,
        conns: HashMap::new(),
        current: "main".into(),
    };
    let show_all = show_enabled();
    let mut report = String::new();
    let (mut compared, mut mismatches, mut differs) = (0usize, 0usize, 0usize);

    // The servers are new, so a failed FLUSHALL is reported but does not stop the file.
    let flush = [b"FLUSHALL".to_vec()];
    let (r, s) = pair.both(&flush, false);
    let flushed = |x: &Reply| matches!(x, Reply::Frame(Frame::Simple(ok)) if &ok[..] == b"OK");
    assert!(flushed(&r), "{name}: FLUSHALL on redis-server answered {r}");
    if !flushed(&s) {
        mismatches += 1;
        let _ = writeln!(
            report,
            "{name}: FLUSHALL before the first line\n  redis:   {r}\n  subject: {s}"
        );
    }
    for step in &case.steps {
        match step {
            Step::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            Step::Read { line, mode } => {
                compared += 1;
                let (r, s) = pair.both_read();
                if show_all {
                    progress(&format!(
                        "{name}:{line}: @read\n  redis:   {r}\n  subject: {s}"
                    ));
                }
                if let Err(why) = compare(mode, &r, &s) {
                    mismatches += 1;
                    let _ = writeln!(
                        report,
                        "{name}:{line}: @read\n  redis:   {r}\n  subject: {s}\n  ({why})"
                    );
                }
            }
            Step::Conn(c) => pair.current = c.clone(),
            Step::Hello { line, proto } => {
                let args = [b"HELLO".to_vec(), proto.to_string().into_bytes()];
                let (r, s) = pair.both(&args, false);
                let ok = |x: &Reply| matches!(x, Reply::Frame(f) if !matches!(f, Frame::Error(_)));
                if !ok(&r) || !ok(&s) {
                    mismatches += 1;
                    let _ = writeln!(
                        report,
                        "{name}:{line}: @resp{proto} (HELLO {proto}) failed\n  redis:   {r}\n  subject: {s}"
                    );
                }
            }
            Step::Command {
                line,
                text,
                args,
                mode,
            } => {
                compared += 1;
                let (r, s) = if mode.scan {
                    pair.both_scan(args)
                } else {
                    pair.both(args, mode.noreply)
                };
                if show_all {
                    progress(&format!(
                        "{name}:{line}: {text}\n  redis:   {r}\n  subject: {s}"
                    ));
                }
                if let Some(reason) = &mode.differ {
                    differs += 1;
                    let both_replied = matches!(r, Reply::Frame(_)) && matches!(s, Reply::Frame(_));
                    if both_replied {
                        note(&format!("diff: {name}:{line}: @differ `{text}`: {reason}"));
                    } else {
                        mismatches += 1;
                        let _ = writeln!(
                            report,
                            "{name}:{line}: {text}   (@differ: both must reply)\n  redis:   {r}\n  subject: {s}"
                        );
                    }
                    continue;
                }
                if let Err(why) = compare(mode, &r, &s) {
                    mismatches += 1;
                    let _ = writeln!(
                        report,
                        "{name}:{line}: {text}\n  redis:   {r}\n  subject: {s}\n  ({why})"
                    );
                }
            }
        }
    }
    progress(&format!(
        "diff: {name}: {compared} commands, {mismatches} mismatches, {differs} @differ (subject: {})",
        pair.subject.name()
    ));
    assert!(
        mismatches == 0,
        "{mismatches} of {compared} commands in {name} differ between redis-server and {}:\n{report}",
        pair.subject.name()
    );
}

// ---------------------------------------------------------------------------------
// Comparing

/// `Ok` when the subject's reply matches the reference's under `mode`.
fn compare(mode: &Mode, reference: &Reply, subject: &Reply) -> Result<(), String> {
    let (r, s) = match (reference, subject) {
        (Reply::Frame(r), Reply::Frame(s)) => (r, s),
        (Reply::Closed, Reply::Closed) | (Reply::Timeout, Reply::Timeout) => return Ok(()),
        _ => return Err("different outcomes".into()),
    };
    if mode.type_only {
        return if r.type_name() == s.type_name() {
            Ok(())
        } else {
            Err(format!("type {} vs {}", r.type_name(), s.type_name()))
        };
    }
    if mode.error_prefix {
        if let (Frame::Error(a), Frame::Error(b)) = (r, s) {
            let code = |e: &Bytes| e.split(|&c| c == b' ').next().unwrap_or_default().to_vec();
            return if code(a) == code(b) {
                Ok(())
            } else {
                Err("error codes differ".into())
            };
        }
    }
    if mode.fields {
        return match (r.as_bytes(), s.as_bytes()) {
            (Some(a), Some(b)) if r.type_name() == s.type_name() => {
                let (ka, kb) = (field_names(a), field_names(b));
                if ka == kb {
                    Ok(())
                } else {
                    Err(field_difference(&ka, &kb))
                }
            }
            _ => Err("@fields needs text replies of the same type on both sides".into()),
        };
    }
    let (mut r, mut s) = (r.clone(), s.clone());
    if !mode.ignore.is_empty() {
        r = drop_keys(r, &mode.ignore);
        s = drop_keys(s, &mode.ignore);
    }
    if mode.sort != Sort::None {
        let deep = mode.sort == Sort::Deep;
        sort_frame(&mut r, deep);
        sort_frame(&mut s, deep);
    }
    if same(&r, &s, mode.approx.unwrap_or(0)) {
        Ok(())
    } else {
        Err("replies differ".into())
    }
}

/// Structural equality where integers may differ by `tol`.
fn same(a: &Frame, b: &Frame, tol: i64) -> bool {
    match (a, b) {
        (Frame::Integer(x), Frame::Integer(y)) => x.abs_diff(*y) <= tol as u64,
        (Frame::Array(x), Frame::Array(y))
        | (Frame::Set(x), Frame::Set(y))
        | (Frame::Push(x), Frame::Push(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q, tol))
        }
        (Frame::Map(x), Frame::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| same(k1, k2, tol) && same(v1, v2, tol))
        }
        _ => a == b,
    }
}

fn sort_frame(f: &mut Frame, deep: bool) {
    match f {
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            if deep {
                items.iter_mut().for_each(|i| sort_frame(i, true));
            }
            items.sort_by_key(|i| i.to_vec());
        }
        Frame::Map(pairs) => {
            if deep {
                for (k, v) in pairs.iter_mut() {
                    sort_frame(k, true);
                    sort_frame(v, true);
                }
            }
            pairs.sort_by_key(|(k, v)| (k.to_vec(), v.to_vec()));
        }
        _ => {}
    }
}

/// Removes the entries whose key is in `keys` from maps, and from RESP2 arrays of
/// alternating keys and values, at every nesting level.
fn drop_keys(f: Frame, keys: &[Vec<u8>]) -> Frame {
    let hit = |k: &Frame| {
        k.as_bytes()
            .is_some_and(|b| keys.iter().any(|x| x.as_slice() == b))
    };
    match f {
        Frame::Map(pairs) => Frame::Map(
            pairs
                .into_iter()
                .filter(|(k, _)| !hit(k))
                .map(|(k, v)| (k, drop_keys(v, keys)))
                .collect(),
        ),
        Frame::Array(items) if items.len() % 2 == 0 => {
            let mut out = Vec::with_capacity(items.len());
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                if !hit(&k) {
                    out.push(drop_keys(k, keys));
                    out.push(drop_keys(v, keys));
                }
            }
            Frame::Array(out)
        }
        Frame::Array(items) => {
            Frame::Array(items.into_iter().map(|i| drop_keys(i, keys)).collect())
        }
        other => other,
    }
}

/// Says which field names one side has and the other lacks, line by line.
fn field_difference(reference: &[Vec<String>], subject: &[Vec<String>]) -> String {
    if reference.len() != subject.len() {
        return format!(
            "{} lines from redis-server, {} from the subject",
            reference.len(),
            subject.len()
        );
    }
    let mut out = Vec::new();
    for (i, (a, b)) in reference.iter().zip(subject).enumerate() {
        let missing: Vec<&String> = a.iter().filter(|k| !b.contains(k)).collect();
        let extra: Vec<&String> = b.iter().filter(|k| !a.contains(k)).collect();
        if missing.is_empty() && extra.is_empty() {
            if a != b {
                out.push(format!("line {}: same fields in another order", i + 1));
            }
        } else {
            out.push(format!(
                "line {}: subject lacks {missing:?}, has extra {extra:?}",
                i + 1
            ));
        }
    }
    format!("field names differ: {}", out.join("; "))
}

/// The `key` of every `key=value` token, line by line.
fn field_names(text: &[u8]) -> Vec<Vec<String>> {
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(' ')
                .filter_map(|tok| tok.split_once('=').map(|(k, _)| k.to_string()))
                .collect()
        })
        .collect()
}
