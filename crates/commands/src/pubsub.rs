//! Pub/sub: the channels of one instance (each tenant database has its own: tenants
//! are walls), the per-connection outbound queue messages are delivered through, the
//! output-buffer limits that disconnect a subscriber who stops reading, and keyspace
//! notifications.
//!
//! # Delivery
//!
//! A connection that subscribes gets an [`Outbox`]: a queue of encoded frames, a byte
//! count and a wake-up. PUBLISH runs on the publisher's I/O thread: it encodes the
//! message once per protocol (RESP2 array, RESP3 push) into shared [`Bytes`], looks the
//! channel and the patterns up under a read lock, and appends the shared bytes to each
//! subscriber's queue (a reference count, no copy), waking the subscriber's connection
//! task when its queue was empty. That task, wherever it runs, selects on the wake-up
//! beside its socket read and writes everything queued with vectored writes; before
//! it runs a command of its own it moves what is queued ahead of that command's reply,
//! so the order a client sees is the order the server delivered in. A message for the
//! publishing connection itself (a RESP3 client subscribed to what it publishes, or to
//! its own keyspace events) goes straight into its reply buffer, before the command's
//! reply, as in Redis.
//!
//! # Output-buffer limits
//!
//! `client-output-buffer-limit` as in Redis: per class (`normal`, `pubsub`; `replica`
//! is kept for CONFIG but there are no replicas) a hard limit and a soft limit held for
//! some seconds. A subscriber's queued bytes are checked at every delivery; one over
//! its limit is disconnected at once, its queue dropped (the memory is freed then, not
//! when the socket finally drains) and counted in INFO
//! `client_output_buffer_limit_disconnections`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes};
use parking_lot::{Mutex, RwLock};
use resp::ReplyWriter;

use crate::client::{Client, ClientInfo};
use crate::instance::Instance;

/// Keyspace-notification classes (the letters of `notify-keyspace-events`).
pub mod class {
    pub const KEYSPACE: u32 = 1 << 0; // K
    pub const KEYEVENT: u32 = 1 << 1; // E
    pub const GENERIC: u32 = 1 << 2; // g
    pub const STRING: u32 = 1 << 3; // $
    pub const LIST: u32 = 1 << 4; // l
    pub const SET: u32 = 1 << 5; // s
    pub const HASH: u32 = 1 << 6; // h
    pub const ZSET: u32 = 1 << 7; // z
    pub const EXPIRED: u32 = 1 << 8; // x
    pub const EVICTED: u32 = 1 << 9; // e
    pub const STREAM: u32 = 1 << 10; // t
    pub const KEY_MISS: u32 = 1 << 11; // m
    pub const MODULE: u32 = 1 << 12; // d
    pub const NEW: u32 = 1 << 13; // n

    /// The class bits of a `notify-keyspace-events` value (already validated).
    pub fn parse(v: &str) -> u32 {
        let mut f = 0;
        for c in v.chars() {
            f |= match c {
                'A' => {
                    GENERIC
                        | STRING
                        | LIST
                        | SET
                        | HASH
                        | ZSET
                        | EXPIRED
                        | EVICTED
                        | STREAM
                        | MODULE
                }
                'g' => GENERIC,
                '$' => STRING,
                'l' => LIST,
                's' => SET,
                'h' => HASH,
                'z' => ZSET,
                'x' => EXPIRED,
                'e' => EVICTED,
                't' => STREAM,
                'm' => KEY_MISS,
                'd' => MODULE,
                'n' => NEW,
                'K' => KEYSPACE,
                'E' => KEYEVENT,
                _ => 0,
            };
        }
        // Without K or E nothing is published, whatever the classes.
        if f & (KEYSPACE | KEYEVENT) == 0 {
            0
        } else {
            f
        }
    }
}

/// Client classes of `client-output-buffer-limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObufClass {
    Normal = 0,
    Replica = 1,
    PubSub = 2,
}

/// One class's output-buffer limit (0 = none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObufLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

impl ObufLimit {
    pub fn is_none(&self) -> bool {
        self.hard == 0 && self.soft == 0
    }
}

/// Redis's defaults: no limit for normal clients, 256mb/64mb/60 for replicas,
/// 32mb/8mb/60 for subscribers.
pub const DEFAULT_OBUF_LIMITS: [ObufLimit; 3] = [
    ObufLimit {
        hard: 0,
        soft: 0,
        soft_secs: 0,
    },
    ObufLimit {
        hard: 256 << 20,
        soft: 64 << 20,
        soft_secs: 60,
    },
    ObufLimit {
        hard: 32 << 20,
        soft: 8 << 20,
        soft_secs: 60,
    },
];

const CLASS_NAMES: [&str; 3] = ["normal", "slave", "pubsub"];

/// The `client-output-buffer-limit` value as CONFIG GET shows it.
pub fn obuf_limits_to_string(l: &[ObufLimit; 3]) -> String {
    let mut s = String::new();
    for (i, x) in l.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!(
            "{} {} {} {}",
            CLASS_NAMES[i], x.hard, x.soft, x.soft_secs
        ));
    }
    s
}

/// Parses `<class> <hard> <soft> <seconds>` groups, as Redis checks them (all or
/// nothing). The reasons are Redis's words.
pub fn parse_obuf_limits(v: &str) -> Result<Vec<(ObufClass, ObufLimit)>, &'static str> {
    let words: Vec<&str> = v.split_whitespace().collect();
    if words.len() % 4 != 0 {
        return Err(crate::errors::OBUF_LIMIT_ARGS);
    }
    let mut out = Vec::new();
    for g in words.chunks(4) {
        let class = match g[0].to_ascii_lowercase().as_str() {
            "normal" => ObufClass::Normal,
            "slave" | "replica" => ObufClass::Replica,
            "pubsub" => ObufClass::PubSub,
            _ => return Err(crate::errors::OBUF_LIMIT_CLASS),
        };
        let hard = crate::config::parse_memory(g[1]);
        let soft = crate::config::parse_memory(g[2]);
        let secs = g[3].parse::<i64>().ok().filter(|s| *s >= 0);
        match (hard, soft, secs) {
            (Some(hard), Some(soft), Some(secs)) => out.push((
                class,
                ObufLimit {
                    hard,
                    soft,
                    soft_secs: secs as u64,
                },
            )),
            _ => return Err(crate::errors::OBUF_LIMIT_VALUES),
        }
    }
    Ok(out)
}

/// The limits dispatch and delivery read, copied out of the configuration.
#[derive(Debug, Default)]
pub struct ObufLimits {
    v: [[AtomicU64; 3]; 3],
}

impl ObufLimits {
    pub fn load(&self, l: &[ObufLimit; 3]) {
        for (slot, x) in self.v.iter().zip(l) {
            slot[0].store(x.hard, Relaxed);
            slot[1].store(x.soft, Relaxed);
            slot[2].store(x.soft_secs, Relaxed);
        }
    }

    pub fn get(&self, class: ObufClass) -> ObufLimit {
        let s = &self.v[class as usize];
        ObufLimit {
            hard: s[0].load(Relaxed),
            soft: s[1].load(Relaxed),
            soft_secs: s[2].load(Relaxed),
        }
    }
}

/// Where a client stands against its soft limit: since when it has been over it.
#[derive(Debug, Default)]
pub struct SoftClock(Option<Instant>);

impl SoftClock {
    /// Redis's rule: over the hard limit, or over the soft limit for longer than its
    /// seconds (the first time over starts the clock; going under stops it).
    pub fn over(&mut self, used: usize, l: &ObufLimit) -> bool {
        let used = used as u64;
        let hard = l.hard != 0 && used >= l.hard;
        let mut soft = l.soft != 0 && used >= l.soft;
        if soft {
            match self.0 {
                None => {
                    self.0 = Some(Instant::now());
                    soft = false;
                }
                Some(t) => {
                    if t.elapsed().as_secs() <= l.soft_secs {
                        soft = false;
                    }
                }
            }
        } else {
            self.0 = None;
        }
        hard || soft
    }
}

// ---------------------------------------------------------------------------------
// The outbound queue

#[derive(Default)]
struct Queue {
    items: VecDeque<Bytes>,
    bytes: usize,
    soft: SoftClock,
    /// Disconnected for its limit: nothing more is queued.
    dead: bool,
}

/// A subscribed connection's outbound queue (see the module docs).
pub struct Outbox {
    pub info: Arc<ClientInfo>,
    q: Mutex<Queue>,
    /// Woken when the queue becomes non-empty.
    pub notify: tokio::sync::Notify,
    resp3: AtomicBool,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("client", &self.info.id)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    pub fn new(info: Arc<ClientInfo>, resp3: bool) -> Self {
        Outbox {
            info,
            q: Mutex::new(Queue::default()),
            notify: tokio::sync::Notify::new(),
            resp3: AtomicBool::new(resp3),
        }
    }

    pub fn set_resp3(&self, v: bool) {
        self.resp3.store(v, Relaxed);
    }

    fn publish_stats(&self, q: &Queue) {
        self.info.omem.store(q.bytes, Relaxed);
        self.info.oll.store(q.items.len(), Relaxed);
    }

    /// Queues one frame; disconnects the client if that takes it over its limit.
    fn push(&self, frame: &Bytes, inst: &Instance) {
        let mut q = self.q.lock();
        if q.dead {
            return;
        }
        let was_empty = q.items.is_empty();
        q.bytes += frame.len();
        q.items.push_back(frame.clone());
        let limit = inst.obuf_limits.get(ObufClass::PubSub);
        if !limit.is_none() {
            let used = q.bytes;
            if q.soft.over(used, &limit) {
                q.dead = true;
                q.items = VecDeque::new();
                q.bytes = 0;
                self.publish_stats(&q);
                drop(q);
                inst.stats
                    .client_output_buffer_limit_disconnections
                    .fetch_add(1, Relaxed);
                tracing::warn!(
                    client = self.info.id,
                    used,
                    "client scheduled to be closed for overcoming of output buffer limits"
                );
                self.info.kill();
                return;
            }
        }
        self.publish_stats(&q);
        drop(q);
        if was_empty {
            self.notify.notify_one();
        }
    }

    /// Queued bytes.
    pub fn pending(&self) -> usize {
        self.q.lock().bytes
    }

    /// Moves everything queued to the end of `out` (ahead of the next reply).
    pub fn drain_into(&self, out: &mut ReplyWriter) {
        let mut q = self.q.lock();
        if q.items.is_empty() {
            return;
        }
        for b in q.items.drain(..) {
            out.raw(&b);
        }
        q.bytes = 0;
        self.publish_stats(&q);
    }

    /// Clones (reference counts) up to `max` queued frames into `batch`, oldest first,
    /// leaving them queued until [`consume`](Self::consume) says they were written.
    pub fn peek(&self, batch: &mut Vec<Bytes>, max: usize) {
        let q = self.q.lock();
        batch.extend(q.items.iter().take(max).cloned());
    }

    /// Drops the first `n` queued bytes (written to the socket).
    pub fn consume(&self, mut n: usize) {
        let mut q = self.q.lock();
        if q.dead {
            return;
        }
        q.bytes = q.bytes.saturating_sub(n);
        while n > 0 {
            let Some(front) = q.items.front_mut() else {
                break;
            };
            if front.len() <= n {
                n -= front.len();
                q.items.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
        self.publish_stats(&q);
    }
}

// ---------------------------------------------------------------------------------
// A client's subscriptions

/// The subscriptions of one connection (in the order they were made).
#[derive(Debug)]
pub struct Subscriptions {
    pub outbox: Arc<Outbox>,
    channels: Vec<Bytes>,
    patterns: Vec<Bytes>,
    shard: Vec<Bytes>,
}

impl Subscriptions {
    /// Channels and patterns (what SUBSCRIBE/UNSUBSCRIBE replies count).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    pub fn total(&self) -> usize {
        self.count() + self.shard.len()
    }
}

/// Which namespace a subscription lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// Whether the client is in Redis's pub/sub context (subscribed to anything).
#[inline]
pub fn subscribed(client: &Client) -> bool {
    client.subs.as_ref().is_some_and(|s| s.total() > 0)
}

// ---------------------------------------------------------------------------------
// The instance's channels

type Subscribers = Vec<Arc<Outbox>>;

/// One instance's channels, patterns and shard channels.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Bytes, Subscribers>>,
    /// In the order patterns were first subscribed.
    patterns: RwLock<Vec<(Bytes, Subscribers)>>,
    shard: RwLock<HashMap<Bytes, Subscribers>>,
    /// Subscriptions of any kind: keyspace notifications with nobody listening cost
    /// one load of this.
    total: AtomicUsize,
}

impl PubSub {
    /// Channels with at least one subscriber (INFO pubsub_channels).
    pub fn channel_count(&self) -> usize {
        self.channels.read().len()
    }

    /// Distinct patterns subscribed (INFO pubsub_patterns, PUBSUB NUMPAT).
    pub fn pattern_count(&self) -> usize {
        self.patterns.read().len()
    }

    pub fn shard_channel_count(&self) -> usize {
        self.shard.read().len()
    }

    pub fn anyone(&self) -> bool {
        self.total.load(Relaxed) > 0
    }

    /// Active channels (or shard channels) matching `pattern`, sorted.
    pub fn list(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let map = match kind {
            Kind::Shard => self.shard.read(),
            _ => self.channels.read(),
        };
        let mut v: Vec<Bytes> = map
            .keys()
            .filter(|c| pattern.is_none_or(|p| crate::families::util::glob_match(p, c, false)))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Subscribers of one channel (or shard channel), not counting patterns.
    pub fn numsub(&self, kind: Kind, channel: &[u8]) -> usize {
        let map = match kind {
            Kind::Shard => self.shard.read(),
            _ => self.channels.read(),
        };
        map.get(channel).map_or(0, Vec::len)
    }

    fn add(&self, kind: Kind, name: &Bytes, ob: &Arc<Outbox>) {
        match kind {
            Kind::Channel | Kind::Shard => {
                let mut map = if kind == Kind::Shard {
                    self.shard.write()
                } else {
                    self.channels.write()
                };
                map.entry(name.clone()).or_default().push(ob.clone());
            }
            Kind::Pattern => {
                let mut pats = self.patterns.write();
                match pats.iter_mut().find(|(p, _)| p == name) {
                    Some((_, subs)) => subs.push(ob.clone()),
                    None => pats.push((name.clone(), vec![ob.clone()])),
                }
            }
        }
        self.total.fetch_add(1, Relaxed);
    }

    fn remove(&self, kind: Kind, name: &[u8], ob: &Arc<Outbox>) {
        let drop_from = |subs: &mut Subscribers| {
            if let Some(i) = subs.iter().position(|s| Arc::ptr_eq(s, ob)) {
                subs.remove(i);
            }
            subs.is_empty()
        };
        match kind {
            Kind::Channel | Kind::Shard => {
                let mut map = if kind == Kind::Shard {
                    self.shard.write()
                } else {
                    self.channels.write()
                };
                if let Some(subs) = map.get_mut(name) {
                    if drop_from(subs) {
                        map.remove(name);
                    }
                }
            }
            Kind::Pattern => {
                let mut pats = self.patterns.write();
                if let Some(i) = pats.iter().position(|(p, _)| p == name) {
                    if drop_from(&mut pats[i].1) {
                        pats.remove(i);
                    }
                }
            }
        }
        self.total.fetch_sub(1, Relaxed);
    }
}

/// A message encoded once per protocol, shared by every subscriber of that protocol.
struct Encoded<'a> {
    parts: &'a [&'a [u8]],
    resp2: Option<Bytes>,
    resp3: Option<Bytes>,
}

impl<'a> Encoded<'a> {
    fn new(parts: &'a [&'a [u8]]) -> Self {
        Encoded {
            parts,
            resp2: None,
            resp3: None,
        }
    }

    fn get(&mut self, resp3: bool) -> &Bytes {
        let parts = self.parts;
        let slot = if resp3 {
            &mut self.resp3
        } else {
            &mut self.resp2
        };
        slot.get_or_insert_with(|| {
            let len: usize = parts.iter().map(|p| p.len() + 16).sum();
            let mut w = ReplyWriter::new(if resp3 {
                resp::Protocol::Resp3
            } else {
                resp::Protocol::Resp2
            });
            w.buffer_mut().reserve(len + 8);
            w.push(parts.len());
            for p in parts {
                w.bulk(p);
            }
            Bytes::from(w.take())
        })
    }
}

/// Hands one frame to a subscriber: into the caller's own reply buffer when the
/// subscriber is the caller, else onto its queue.
fn deliver(
    inst: &Instance,
    ob: &Arc<Outbox>,
    enc: &mut Encoded<'_>,
    me: Option<&Arc<Outbox>>,
    out: &mut ReplyWriter,
) {
    if me.is_some_and(|m| Arc::ptr_eq(m, ob)) {
        let frame = enc.get(out.is_resp3());
        out.raw(frame);
    } else {
        let frame = enc.get(ob.resp3.load(Relaxed));
        ob.push(frame, inst);
    }
}

/// Publishes `msg` on `channel`; returns how many subscriptions received it (channel
/// subscribers, plus one per matching pattern subscription), as PUBLISH replies.
pub fn publish(
    inst: &Instance,
    kind: Kind,
    channel: &[u8],
    msg: &[u8],
    me: Option<&Arc<Outbox>>,
    out: &mut ReplyWriter,
) -> usize {
    let ps = &inst.pubsub;
    if !ps.anyone() {
        return 0;
    }
    let mut n = 0;
    {
        let map = if kind == Kind::Shard {
            ps.shard.read()
        } else {
            ps.channels.read()
        };
        if let Some(subs) = map.get(channel) {
            let word: &[u8] = if kind == Kind::Shard {
                b"smessage"
            } else {
                b"message"
            };
            let parts = [word, channel, msg];
            let mut enc = Encoded::new(&parts);
            for ob in subs {
                deliver(inst, ob, &mut enc, me, out);
                n += 1;
            }
        }
    }
    if kind == Kind::Channel {
        let pats = ps.patterns.read();
        for (pat, subs) in pats.iter() {
            if !crate::families::util::glob_match(pat, channel, false) {
                continue;
            }
            let parts = [&b"pmessage"[..], pat, channel, msg];
            let mut enc = Encoded::new(&parts);
            for ob in subs {
                deliver(inst, ob, &mut enc, me, out);
                n += 1;
            }
        }
    }
    n
}

/// The calling client's outbox, made at its first subscription.
fn outbox_of(client: &mut Client, resp3: bool) -> &mut Subscriptions {
    client.subs.get_or_insert_with(|| {
        Box::new(Subscriptions {
            outbox: Arc::new(Outbox::new(client.info.clone(), resp3)),
            channels: Vec::new(),
            patterns: Vec::new(),
            shard: Vec::new(),
        })
    })
}

fn publish_counts(client: &Client) {
    let info = &client.info;
    let (c, p, s) = client.subs.as_ref().map_or((0, 0, 0), |x| {
        (x.channels.len(), x.patterns.len(), x.shard.len())
    });
    info.sub.store(c, Relaxed);
    info.psub.store(p, Relaxed);
    info.ssub.store(s, Relaxed);
    let mut names = info.subscribed.lock();
    names.clear();
    if let Some(x) = &client.subs {
        names.extend(
            x.channels
                .iter()
                .chain(&x.shard)
                .map(|n| (false, n.to_vec())),
        );
        names.extend(x.patterns.iter().map(|n| (true, n.to_vec())));
    }
}

fn confirm(out: &mut ReplyWriter, word: &[u8], name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk(word);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

fn list_of(s: &mut Subscriptions, kind: Kind) -> &mut Vec<Bytes> {
    match kind {
        Kind::Channel => &mut s.channels,
        Kind::Pattern => &mut s.patterns,
        Kind::Shard => &mut s.shard,
    }
}

fn reply_count(s: &Subscriptions, kind: Kind) -> usize {
    if kind == Kind::Shard {
        s.shard.len()
    } else {
        s.count()
    }
}

/// SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE: subscribes to each name not yet subscribed and
/// confirms each.
pub fn subscribe(
    inst: &Instance,
    client: &mut Client,
    out: &mut ReplyWriter,
    kind: Kind,
    names: &[&[u8]],
) {
    let resp3 = out.is_resp3();
    let s = outbox_of(client, resp3);
    for &name in names {
        let list = list_of(s, kind);
        if !list.iter().any(|c| c == name) {
            let b = Bytes::copy_from_slice(name);
            inst.pubsub.add(kind, &b, &s.outbox);
            list_of(s, kind).push(b);
        }
        confirm(out, kind.subscribe_word(), Some(name), reply_count(s, kind));
    }
    publish_counts(client);
}

/// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE: from the names given, or from every
/// subscription of that kind when none is given.
pub fn unsubscribe(
    inst: &Instance,
    client: &mut Client,
    out: &mut ReplyWriter,
    kind: Kind,
    names: &[&[u8]],
) {
    let word = kind.unsubscribe_word();
    let Some(s) = client.subs.as_deref_mut() else {
        if names.is_empty() {
            confirm(out, word, None, 0);
        }
        for &name in names {
            confirm(out, word, Some(name), 0);
        }
        return;
    };
    if names.is_empty() {
        let all = std::mem::take(list_of(s, kind));
        if all.is_empty() {
            confirm(out, word, None, reply_count(s, kind));
        }
        let mut left = all.len();
        for name in all {
            inst.pubsub.remove(kind, &name, &s.outbox);
            left -= 1;
            let count = if kind == Kind::Shard {
                left
            } else {
                s.count() + left
            };
            confirm(out, word, Some(&name), count);
        }
    } else {
        for &name in names {
            let list = list_of(s, kind);
            if let Some(i) = list.iter().position(|c| c == name) {
                list.remove(i);
                inst.pubsub.remove(kind, name, &s.outbox);
            }
            confirm(out, word, Some(name), reply_count(s, kind));
        }
    }
    publish_counts(client);
}

/// Drops every subscription without a word (RESET, the connection closing or moving
/// to another instance).
pub fn release(inst: &Instance, client: &mut Client) {
    let Some(s) = client.subs.as_deref_mut() else {
        return;
    };
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in std::mem::take(list_of(s, kind)) {
            inst.pubsub.remove(kind, &name, &s.outbox);
        }
    }
    publish_counts(client);
}

/// The caller's own outbox, if it subscribed (for self-delivery).
#[inline]
pub fn own_outbox(client: &Client) -> Option<&Arc<Outbox>> {
    client.subs.as_ref().map(|s| &s.outbox)
}

// ---------------------------------------------------------------------------------
// Keyspace notifications

/// Publishes a keyspace event for `key` in logical database `db`, as Redis's
/// notifyKeyspaceEvent: `__keyspace@<db>__:<key>` with the event name, and
/// `__keyevent@<db>__:<event>` with the key, for the parts `notify-keyspace-events`
/// asks for. The caller checked that the class is enabled.
pub fn keyspace_event(
    inst: &Instance,
    flags: u32,
    event: &str,
    key: &[u8],
    db: usize,
    me: Option<&Arc<Outbox>>,
    out: &mut ReplyWriter,
) {
    if !inst.pubsub.anyone() {
        return;
    }
    let mut db_buf = itoa::Buffer::new();
    let db_s = db_buf.format(db).as_bytes();
    let mut chan = Vec::with_capacity(20 + key.len().max(event.len()));
    if flags & class::KEYSPACE != 0 {
        chan.extend_from_slice(b"__keyspace@");
        chan.extend_from_slice(db_s);
        chan.extend_from_slice(b"__:");
        chan.extend_from_slice(key);
        publish(inst, Kind::Channel, &chan, event.as_bytes(), me, out);
    }
    if flags & class::KEYEVENT != 0 {
        chan.clear();
        chan.extend_from_slice(b"__keyevent@");
        chan.extend_from_slice(db_s);
        chan.extend_from_slice(b"__:");
        chan.extend_from_slice(event.as_bytes());
        publish(inst, Kind::Channel, &chan, key, me, out);
    }
}

/// `Ctx::notify` for a handler that still holds a borrowed entry (it passes the
/// context's fields one by one).
pub fn notify_parts(
    inst: &Instance,
    client: &Client,
    out: &mut ReplyWriter,
    class: u32,
    event: &str,
    key: &[u8],
) {
    let flags = inst.notify_flags();
    if flags & (class | crate::tracking::ACTIVE) != 0 {
        let me = own_outbox(client).cloned();
        let cur = client.info.id;
        engine_events(inst, me.as_ref(), cur, out);
        if flags & class != 0 {
            keyspace_event(inst, flags, event, key, client.db, me.as_ref(), out);
        }
        if flags & crate::tracking::ACTIVE != 0 && class & (class::KEY_MISS | class::NEW) == 0 {
            crate::tracking::invalidate(inst, key, cur, cur, true, out);
        }
    }
}

/// Publishes what the engine recorded on its own account (keys expired lazily or by
/// active expiry, evicted, or new), oldest first.
pub fn engine_events(inst: &Instance, me: Option<&Arc<Outbox>>, cur: u64, out: &mut ReplyWriter) {
    if !inst.ks.events.enabled() {
        return;
    }
    let events = inst.ks.events.take();
    if events.is_empty() {
        return;
    }
    let flags = inst.notify_flags();
    for e in events {
        let (c, name) = match e.kind {
            engine::KeyEventKind::Expired => (class::EXPIRED, "expired"),
            engine::KeyEventKind::Evicted => (class::EVICTED, "evicted"),
            engine::KeyEventKind::New => (class::NEW, "new"),
            engine::KeyEventKind::Miss => (class::KEY_MISS, "keymiss"),
        };
        if flags & c != 0 {
            keyspace_event(inst, flags, name, &e.key, e.db, me, out);
        }
        if flags & crate::tracking::ACTIVE != 0 && e.kind != engine::KeyEventKind::New {
            crate::tracking::invalidate(inst, &e.key, 0, cur, true, out);
        }
    }
}

/// The engine events to record for these notification flags.
pub fn engine_mask(flags: u32) -> u8 {
    let mut m = 0;
    // Tracked keys are invalidated when they expire or are evicted.
    if flags & crate::tracking::ACTIVE != 0 {
        m |= engine::KeyEventKind::Expired as u8 | engine::KeyEventKind::Evicted as u8;
    }
    if flags & class::EXPIRED != 0 {
        m |= engine::KeyEventKind::Expired as u8;
    }
    if flags & class::EVICTED != 0 {
        m |= engine::KeyEventKind::Evicted as u8;
    }
    if flags & class::NEW != 0 {
        m |= engine::KeyEventKind::New as u8;
    }
    if flags & class::KEY_MISS != 0 {
        m |= engine::KeyEventKind::Miss as u8;
    }
    m
}

/// Publishes engine events outside any command (the cron's active expiry and
/// eviction): no client of its own, so every frame is queued.
pub fn engine_events_background(inst: &Instance) {
    if !inst.ks.events.enabled() {
        return;
    }
    let mut sink = ReplyWriter::new(resp::Protocol::Resp2);
    engine_events(inst, None, 0, &mut sink);
    if inst.notify_flags() & crate::tracking::ACTIVE != 0 {
        crate::tracking::after_background(inst);
    }
}
