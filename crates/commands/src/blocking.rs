//! Blocking commands (BLPOP, BZPOPMIN, XREAD BLOCK, ...): the queues of blocked
//! clients and the wake-up that serves them.
//!
//! A blocking handler is the non-blocking handler plus one call: when there is nothing
//! to serve it calls [`Ctx::block`] instead of replying. That registers a [`Waiter`]
//! under each key while the command still holds the keys' shard locks, so a write
//! that makes a key ready either happened before (and the handler saw it) or happens
//! after the registration (and sees the waiter): no wake-up is lost.
//!
//! After any write command, dispatch looks up the queues of the keys it wrote (only
//! when some client is blocked at all: one atomic load otherwise) and serves them in
//! place, as Redis does after each command: the oldest waiter of a key first, by
//! re-running its command with its own argv on behalf of its connection, with the
//! shards locked as dispatch locks them. The re-run either writes a reply, which is
//! handed to the waiting connection, or calls [`Ctx::block`] again, which leaves the
//! waiter where it was in the queue. The connection meanwhile waits for that reply,
//! its deadline, CLIENT UNBLOCK, CLIENT KILL or the peer closing.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU8, AtomicUsize};
use std::sync::Arc;

use parking_lot::Mutex;
use resp::{Protocol, ReplyWriter};

use crate::client::{Client, ClientInfo};
use crate::ctx::Ctx;
use crate::dispatch::{lock_for, run};
use crate::errors;
use crate::families::util::{parse_f64, parse_i64, LongDouble};
use crate::instance::Instance;
use crate::registry::registry;
use crate::spec::{flags, CommandSpec};

/// What a blocked client is sent when its deadline passes (or CLIENT UNBLOCK ...
/// TIMEOUT): a null array (BLPOP, BZPOPMIN, XREAD) or a null bulk (BLMOVE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnTimeout {
    NullArray,
    NullBulk,
}

impl OnTimeout {
    /// Writes the timeout reply in the client's protocol.
    pub fn write(self, out: &mut ReplyWriter) {
        match self {
            OnTimeout::NullArray => out.null_array(),
            OnTimeout::NullBulk => out.null(),
        }
    }
}

/// What a handler asks for when it has nothing to serve.
pub struct Block<'a> {
    /// The keys whose writes may serve the command (in the client's database).
    pub keys: &'a [&'a [u8]],
    /// Unix milliseconds after which the client gets the timeout reply; None: never.
    pub deadline: Option<u64>,
    pub on_timeout: OnTimeout,
    /// The type a key must hold for a write to it to wake the client ("list", "zset",
    /// "stream"); a write that leaves another type there leaves the client blocked.
    /// [`ANY_KIND`]: every write to the key re-runs the command (XREADGROUP, which
    /// answers an error when its stream is deleted or replaced).
    pub kind: &'static str,
    /// The argv the command is re-run with, when it differs from the one it came with
    /// (XREAD with `$` replaced by the stream's last id at the time of blocking).
    pub argv: Option<Vec<Vec<u8>>>,
}

/// [`Block::kind`] for a command woken by any write to its keys, whatever they hold.
pub const ANY_KIND: &str = "*";

/// A blocking timeout in seconds (BLPOP, BZPOPMIN, BLMOVE, ...): a float, as Redis's
/// `getTimeoutFromObjectOrReply` reads it. `Ok(None)`: block forever (0); otherwise the
/// deadline in Unix milliseconds.
pub fn timeout_secs(arg: &[u8], now_ms: u64) -> Result<Option<u64>, &'static str> {
    let negative = arg.first() == Some(&b'-');
    let secs = match parse_f64(arg) {
        Some(v) if !v.is_nan() => v,
        Some(_) => return Err(errors::TIMEOUT_NOT_FLOAT),
        // Past a double's range but within a long double's, which Redis reads
        // timeouts as: far too large (the cast below makes it "negative"), or a
        // sliver of a millisecond that rounds up to one (or, negative, to zero).
        None => match LongDouble::parse(arg) {
            Some(ld) if ld.is_finite() => {
                if ld.to_human() != b"0" {
                    f64::INFINITY
                } else if negative {
                    -0.0
                } else {
                    // Rounds up to 1 ms below.
                    1e-9
                }
            }
            _ => return Err(errors::TIMEOUT_NOT_FLOAT),
        },
    };
    // Redis rounds up to whole milliseconds (0.0001 s waits 1 ms; -0.0001 s is 0:
    // forever), then converts with a C cast: out-of-range values (and infinities)
    // come out as the most negative integer on the platforms it runs on, hence
    // "negative".
    // (A product a rounding error above a whole number, 2.007 * 1000 =
    // 2007.0000000000002, is that number.)
    let ms = secs * 1000.0;
    let ms = if (ms - ms.round()).abs() < 1e-6 {
        ms.round()
    } else {
        ms.ceil()
    };
    let ms = if ms.is_finite() && ms.abs() < 9.2e18 {
        ms as i64
    } else {
        i64::MIN
    };
    deadline(ms, now_ms)
}

/// A blocking timeout in milliseconds (XREAD and XREADGROUP BLOCK): an integer.
pub fn timeout_ms(arg: &[u8], now_ms: u64) -> Result<Option<u64>, &'static str> {
    let ms = parse_i64(arg).ok_or(errors::TIMEOUT_NOT_INTEGER)?;
    deadline(ms, now_ms)
}

fn deadline(ms: i64, now_ms: u64) -> Result<Option<u64>, &'static str> {
    if ms < 0 {
        return Err(errors::TIMEOUT_NEG);
    }
    if ms == 0 {
        return Ok(None);
    }
    // A deadline past the end of time (Redis 7.0 overflows and blocks) is forever.
    let now = now_ms.min(i64::MAX as u64) as i64;
    Ok(ms.checked_add(now).map(|at| at as u64))
}

// Waiter states.
const WAITING: u8 = 0;
/// A write is re-running the command for it.
const SERVING: u8 = 1;
/// Served: the reply is in `reply`.
const DONE: u8 = 2;
/// Timed out, disconnected or killed: no longer in line.
const CANCELLED: u8 = 3;
/// CLIENT UNBLOCK ... TIMEOUT: answer as a timeout.
const UNBLOCKED_TIMEOUT: u8 = 4;
/// CLIENT UNBLOCK ... ERROR.
const UNBLOCKED_ERROR: u8 = 5;

/// One blocked client: its command, and where its reply goes.
pub struct Waiter {
    pub info: Arc<ClientInfo>,
    db: usize,
    argv: Vec<Vec<u8>>,
    keys: Vec<Vec<u8>>,
    kind: &'static str,
    pub deadline: Option<u64>,
    pub on_timeout: OnTimeout,
    protocol: Protocol,
    state: AtomicU8,
    reply: Mutex<Vec<u8>>,
    /// Woken when the state leaves WAITING for good (served or unblocked).
    pub notify: tokio::sync::Notify,
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("client", &self.info.id)
            .field("db", &self.db)
            .field("keys", &self.keys.len())
            .field("deadline", &self.deadline)
            .field("state", &self.state.load(Relaxed))
            .finish()
    }
}

/// How a wait ended, for the connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The command was served: write these bytes.
    Served(Vec<u8>),
    /// Deadline passed, or CLIENT UNBLOCK ... TIMEOUT: the timeout reply.
    TimedOut,
    /// CLIENT UNBLOCK ... ERROR.
    Unblocked,
}

impl Waiter {
    /// The outcome if the wait is over, None while the client is still in line (or
    /// being served right now).
    pub fn outcome(&self) -> Option<Outcome> {
        match self.state.load(Acquire) {
            DONE => Some(Outcome::Served(std::mem::take(&mut *self.reply.lock()))),
            UNBLOCKED_TIMEOUT => Some(Outcome::TimedOut),
            UNBLOCKED_ERROR => Some(Outcome::Unblocked),
            _ => None,
        }
    }

    /// Takes the client out of line (deadline, disconnect, kill). False when a write
    /// is serving it at this very moment or has served it: then the outcome follows.
    pub fn cancel(&self) -> bool {
        self.state
            .compare_exchange(WAITING, CANCELLED, AcqRel, Acquire)
            .is_ok()
    }

    fn is_waiting(&self) -> bool {
        self.state.load(Acquire) == WAITING
    }
}

/// (db, key).
type KeyRef = (usize, Box<[u8]>);

/// The blocked clients of one instance.
#[derive(Default)]
pub struct Blocking {
    /// (db, key) → waiters in arrival order. Waiters that left (served through another
    /// key, timed out) may linger until their key is next looked at or they clean up.
    queues: Mutex<HashMap<KeyRef, VecDeque<Arc<Waiter>>>>,
    /// Blocked clients by id (CLIENT UNBLOCK, INFO blocked_clients).
    by_client: Mutex<HashMap<u64, Arc<Waiter>>>,
    count: AtomicUsize,
}

impl Blocking {
    /// Whether any client is blocked: the only cost writes pay when none is.
    #[inline]
    pub fn any(&self) -> bool {
        self.count.load(Relaxed) > 0
    }

    /// Clients blocked now (INFO `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.count.load(Relaxed)
    }

    /// Blocked clients with a deadline (INFO `clients_in_timeout_table`).
    pub fn with_deadline(&self) -> usize {
        self.by_client
            .lock()
            .values()
            .filter(|w| w.deadline.is_some())
            .count()
    }

    /// Whether client `id` is blocked (CLIENT LIST flag `b`).
    pub fn is_blocked(&self, id: u64) -> bool {
        self.any() && self.by_client.lock().contains_key(&id)
    }

    fn register(&self, w: Arc<Waiter>) {
        {
            let mut q = self.queues.lock();
            for k in &w.keys {
                q.entry((w.db, k.as_slice().into()))
                    .or_default()
                    .push_back(w.clone());
            }
        }
        if self.by_client.lock().insert(w.info.id, w.clone()).is_none() {
            self.count.fetch_add(1, Relaxed);
        }
        *w.info.flags.lock() = String::from("b");
    }

    /// Forgets a waiter whose wait is over (any outcome): out of every queue.
    pub fn remove(&self, w: &Arc<Waiter>) {
        {
            let mut q = self.queues.lock();
            for k in &w.keys {
                let slot = (w.db, Box::<[u8]>::from(k.as_slice()));
                if let Some(line) = q.get_mut(&slot) {
                    line.retain(|x| !Arc::ptr_eq(x, w));
                    if line.is_empty() {
                        q.remove(&slot);
                    }
                }
            }
        }
        let mut by = self.by_client.lock();
        if by.get(&w.info.id).is_some_and(|x| Arc::ptr_eq(x, w)) {
            by.remove(&w.info.id);
            self.count.fetch_sub(1, Relaxed);
            *w.info.flags.lock() = String::from("N");
        }
    }

    /// CLIENT UNBLOCK: ends the wait of client `id`, with a timeout reply or an
    /// error. False when that client is not blocked (or is being served).
    pub fn unblock(&self, id: u64, with_error: bool) -> bool {
        let Some(w) = self.by_client.lock().get(&id).cloned() else {
            return false;
        };
        let to = if with_error {
            UNBLOCKED_ERROR
        } else {
            UNBLOCKED_TIMEOUT
        };
        if w.state
            .compare_exchange(WAITING, to, AcqRel, Acquire)
            .is_err()
        {
            return false;
        }
        self.remove(&w);
        w.notify.notify_one();
        true
    }

    /// The waiters of one key in line, oldest first (a snapshot).
    fn line(&self, db: usize, key: &[u8]) -> Vec<Arc<Waiter>> {
        let q = self.queues.lock();
        match q.get(&(db, Box::<[u8]>::from(key))) {
            Some(line) => line.iter().filter(|w| w.is_waiting()).cloned().collect(),
            None => Vec::new(),
        }
    }
}

impl Ctx<'_, '_> {
    /// Whether the command may block: not inside MULTI/EXEC or a script, where a
    /// blocking command answers at once as if it had timed out.
    pub fn may_block(&self) -> bool {
        !self.client.no_block
    }

    /// Blocks the client until a write to one of `b.keys` lets its command be served,
    /// or its deadline passes. The handler writes no reply. See the module docs.
    pub fn block(&mut self, b: Block<'_>) {
        if self.client.serving_blocked {
            // A re-run that found nothing: the client keeps its place in line.
            self.client.reblock = true;
            return;
        }
        let argv = b
            .argv
            .unwrap_or_else(|| self.argv.iter().map(|a| a.to_vec()).collect());
        let w = Arc::new(Waiter {
            info: self.client.info.clone(),
            db: self.client.db,
            argv,
            keys: b.keys.iter().map(|k| k.to_vec()).collect(),
            kind: b.kind,
            deadline: b.deadline,
            on_timeout: b.on_timeout,
            protocol: self.out.protocol(),
            state: AtomicU8::new(WAITING),
            reply: Mutex::new(Vec::new()),
            notify: tokio::sync::Notify::new(),
        });
        self.inst.blocking.register(w.clone());
        self.client.blocked = Some(w);
    }
}

/// Notes the keys of a write command for [`serve_ready`], when clients are blocked.
pub fn note_write(inst: &Instance, client: &mut Client, spec: &CommandSpec, argv: &[&[u8]]) {
    if !spec.has(flags::WRITE) || !inst.blocking.any() {
        return;
    }
    let db = client.db;
    match spec.key_positions(argv) {
        Some(pos) => {
            for i in pos {
                if let Some(k) = argv.get(i) {
                    client.ready_keys.push((db, k.to_vec()));
                }
            }
        }
        None => {
            // Keys not known from the spec (a command that takes every shard):
            // nothing to look at by key.
        }
    }
}

/// Serves the clients blocked on the keys the last command wrote, oldest first per
/// key, until a key has nothing left for its next waiter. Serving may write more
/// keys (BLMOVE's destination): those are served too. Call with no shard locked.
pub fn serve_ready(inst: &Instance, ready: &mut Vec<(usize, Vec<u8>)>) {
    let mut todo: VecDeque<(usize, Vec<u8>)> = ready.drain(..).collect();
    // Each key is looked at until one pass serves nobody; bounded by the waiters.
    while let Some((db, key)) = todo.pop_front() {
        if !inst.blocking.any() {
            return;
        }
        for w in inst.blocking.line(db, &key) {
            match serve_one(inst, &w, db, &key) {
                Served::Yes(more) => todo.extend(more),
                Served::No => {}
                Served::WrongKind => break,
            }
        }
    }
}

/// Moves the key that became ready to the front of a BLPOP-style key list, so the
/// re-run serves from it, as Redis serves a waiter from the key that was written
/// (several of a waiter's keys can fill in one EXEC). Key lists are one run of
/// arguments: BLPOP/BRPOP/BZPOPMIN/BZPOPMAX `key ... timeout`, BLMPOP/BZMPOP
/// `timeout numkeys key ...`; BLMOVE and BRPOPLPUSH have one source key.
fn ready_key_first(argv: &mut [&[u8]], key: &[u8]) {
    let name = argv
        .first()
        .map(|n| n.to_ascii_lowercase())
        .unwrap_or_default();
    let keys = match name.as_slice() {
        b"blpop" | b"brpop" | b"bzpopmin" | b"bzpopmax" if argv.len() > 2 => 1..argv.len() - 1,
        b"blmpop" | b"bzmpop" => {
            let n = argv
                .get(2)
                .and_then(|a| parse_i64(a))
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0);
            3..(3 + n).min(argv.len())
        }
        _ => return,
    };
    let run = &mut argv[keys];
    if let Some(i) = run.iter().position(|k| *k == key) {
        run[..=i].rotate_right(1);
    }
}

enum Served {
    /// Served; these keys were written by the re-run.
    Yes(Vec<(usize, Vec<u8>)>),
    /// Nothing for this waiter (another waiter of the key may still be served: XREAD
    /// on different ids).
    No,
    /// The key does not hold the type the waiters want: nobody is served.
    WrongKind,
}

fn serve_one(inst: &Instance, w: &Arc<Waiter>, db: usize, key: &[u8]) -> Served {
    if w.state
        .compare_exchange(WAITING, SERVING, AcqRel, Acquire)
        .is_err()
    {
        return Served::No;
    }
    let mut argv: Vec<&[u8]> = w.argv.iter().map(|a| a.as_slice()).collect();
    if matches!(w.kind, "list" | "zset") {
        ready_key_first(&mut argv, key);
    }
    let reg = registry();
    let Some(spec) = argv
        .first()
        .and_then(|name| reg.lookup(name))
        .map(|id| reg.spec(id))
    else {
        w.state.store(WAITING, Release);
        return Served::No;
    };
    let mut client = Client::new(w.info.clone(), true);
    client.db = w.db;
    client.serving_blocked = true;
    let mut out = ReplyWriter::new(w.protocol);
    {
        let mut locked = lock_for(inst, spec, &argv);
        let now = crate::instance::unix_ms();
        if w.kind != ANY_KIND && locked.type_of(db, key, now) != Some(w.kind) {
            drop(locked);
            w.state.store(WAITING, Release);
            return Served::WrongKind;
        }
        run(inst, &mut client, &mut out, &mut locked, spec, &argv);
    }
    if client.reblock {
        w.state.store(WAITING, Release);
        return Served::No;
    }
    crate::dispatch::flush_stats(inst, &mut client);
    *w.reply.lock() = out.take();
    w.state.store(DONE, Release);
    inst.blocking.remove(w);
    w.notify.notify_one();
    Served::Yes(std::mem::take(&mut client.ready_keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_redis_reads_them() {
        let now = 1_000_000;
        assert_eq!(timeout_secs(b"0", now), Ok(None));
        assert_eq!(timeout_secs(b"0.0", now), Ok(None));
        assert_eq!(timeout_secs(b"1", now), Ok(Some(now + 1000)));
        assert_eq!(timeout_secs(b"0.25", now), Ok(Some(now + 250)));
        // Below a millisecond rounds up to one; a negative sliver to 0: forever.
        assert_eq!(timeout_secs(b"0.0001", now), Ok(Some(now + 1)));
        assert_eq!(timeout_secs(b"-0.0001", now), Ok(None));
        assert_eq!(timeout_secs(b"0.0015", now), Ok(Some(now + 2)));
        assert_eq!(timeout_secs(b"2.007", now), Ok(Some(now + 2007)));
        assert_eq!(timeout_secs(b"-1", now), Err(errors::TIMEOUT_NEG));
        assert_eq!(timeout_secs(b"abc", now), Err(errors::TIMEOUT_NOT_FLOAT));
        assert_eq!(timeout_secs(b"nan", now), Err(errors::TIMEOUT_NOT_FLOAT));
        assert_eq!(timeout_secs(b"inf", now), Err(errors::TIMEOUT_NEG));
        assert_eq!(timeout_secs(b"1e400", now), Err(errors::TIMEOUT_NEG));
        assert_eq!(timeout_secs(b"-1e400", now), Err(errors::TIMEOUT_NEG));
        assert_eq!(timeout_secs(b"1e-400", now), Ok(Some(now + 1)));
        assert_eq!(timeout_secs(b"-1e-400", now), Ok(None));
        assert_eq!(timeout_secs(b"1e5000", now), Err(errors::TIMEOUT_NOT_FLOAT));
        assert_eq!(timeout_ms(b"100", now), Ok(Some(now + 100)));
        assert_eq!(timeout_ms(b"0", now), Ok(None));
        assert_eq!(timeout_ms(b"1.5", now), Err(errors::TIMEOUT_NOT_INTEGER));
        assert_eq!(timeout_ms(b"-5", now), Err(errors::TIMEOUT_NEG));
        assert_eq!(timeout_ms(i64::MAX.to_string().as_bytes(), now), Ok(None));
    }

    #[test]
    fn the_ready_key_is_tried_first() {
        let order = |cmd: &str, key: &str| {
            let mut v: Vec<&[u8]> = cmd.split(' ').map(str::as_bytes).collect();
            ready_key_first(&mut v, key.as_bytes());
            v.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(order("BLPOP a b c 0", "c"), "BLPOP c a b 0");
        assert_eq!(order("BLPOP a b c 0", "a"), "BLPOP a b c 0");
        assert_eq!(order("bzpopmin a b 1.5", "b"), "bzpopmin b a 1.5");
        assert_eq!(
            order("BLMPOP 0 3 a b c LEFT COUNT 2", "b"),
            "BLMPOP 0 3 b a c LEFT COUNT 2"
        );
        // A key named like the timeout is not confused with it.
        assert_eq!(order("BLPOP a 0 0", "0"), "BLPOP 0 a 0");
        assert_eq!(
            order("BLMOVE a b LEFT LEFT 0", "a"),
            "BLMOVE a b LEFT LEFT 0"
        );
        assert_eq!(order("BLMPOP 0 99 a b", "b"), "BLMPOP 0 99 b a");
    }

    #[test]
    fn unblock_of_a_client_not_blocked_is_refused() {
        let b = Blocking::default();
        assert!(!b.any());
        assert!(!b.unblock(7, false));
        assert_eq!(b.blocked_clients(), 0);
    }
}
