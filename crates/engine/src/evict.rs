//! What eviction needs from every entry and from the keyspace: the access clock kept in
//! `Entry::access` (LRU time or LFU counter), the maxmemory policies, and the pool of
//! candidates the sampling eviction keeps between rounds.
//!
//! Eviction is approximate, as Redis's is: instead of keeping every key in LRU order (a
//! linked list touched on every read, contended across cores), each eviction samples a
//! few keys, merges them into a small pool of the best candidates seen so far, and evicts
//! the best. The pool carries good candidates over from earlier rounds, which is what
//! makes a handful of samples per eviction come close to true LRU.

use rand::Rng;

/// The `maxmemory-policy` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    #[default]
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    /// Every policy, in a fixed order (an index into it is a compact code).
    pub const ALL: [Policy; 8] = [
        Policy::NoEviction,
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
        Policy::AllKeysRandom,
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ];

    /// Parses a `maxmemory-policy` value (case-insensitive).
    pub fn parse(s: &str) -> Option<Policy> {
        Some(match s.to_ascii_lowercase().as_str() {
            "noeviction" => Policy::NoEviction,
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => return None,
        })
    }

    /// Only keys with an expiry may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    /// `Entry::access` holds an LFU counter rather than an access time.
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    fn is_random(self) -> bool {
        matches!(self, Policy::AllKeysRandom | Policy::VolatileRandom)
    }

    /// Whether a candidate is worth anything to this policy.
    pub(crate) fn considers(self, expire_at: u64) -> bool {
        !self.volatile_only() || expire_at != 0
    }

    /// Whether candidates are ranked (pool) or picked at random.
    pub(crate) fn ranked(self) -> bool {
        self != Policy::NoEviction && !self.is_random()
    }
}

/// The LFU counter a new key starts with, so it is not evicted before it had a chance
/// to be read again (Redis's `LFU_INIT_VAL`).
pub const LFU_INIT_VAL: u8 = 5;

/// LFU: the minute of the last decay lives in the high 24 bits of `Entry::access`.
const LFU_MINUTES_MASK: u32 = 0xff_ffff;

/// How `Entry::access` is kept, with the current time: computed once per command from
/// the instance's policy and clock, then applied to every entry the command touches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Access {
    /// `access` is the time of the last access, Unix seconds (wrapping u32).
    Lru { now_s: u32 },
    /// `access` is `(minute of last decay << 8) | counter`: an 8-bit counter that grows
    /// logarithmically with accesses (the more it holds, the less likely an access bumps
    /// it, scaled by `log_factor`) and loses one per `decay_min` minutes without access.
    Lfu {
        now_min: u32,
        log_factor: u32,
        decay_min: u32,
    },
}

impl Access {
    pub fn lru(now_ms: u64) -> Access {
        Access::Lru {
            now_s: (now_ms / 1000) as u32,
        }
    }

    pub fn lfu(now_ms: u64, log_factor: u32, decay_min: u32) -> Access {
        Access::Lfu {
            now_min: ((now_ms / 60_000) as u32) & LFU_MINUTES_MASK,
            log_factor,
            decay_min,
        }
    }

    /// The clock a policy keeps.
    pub fn for_policy(policy: Policy, now_ms: u64, log_factor: u32, decay_min: u32) -> Access {
        if policy.is_lfu() {
            Access::lfu(now_ms, log_factor, decay_min)
        } else {
            Access::lru(now_ms)
        }
    }

    /// The value a new entry starts with.
    #[inline]
    pub fn initial(&self) -> u32 {
        match *self {
            Access::Lru { now_s } => now_s,
            Access::Lfu { now_min, .. } => (now_min << 8) | u32::from(LFU_INIT_VAL),
        }
    }

    /// Records one access in `access`.
    #[inline]
    pub fn touch(&self, access: &mut u32) {
        match *self {
            Access::Lru { now_s } => *access = now_s,
            Access::Lfu {
                now_min,
                log_factor,
                ..
            } => {
                let counter = log_increment(self.lfu_counter(*access), log_factor);
                *access = (now_min << 8) | u32::from(counter);
            }
        }
    }

    /// Seconds since the last access (LRU), 0 under LFU.
    pub fn idle_secs(&self, access: u32) -> u32 {
        match *self {
            Access::Lru { now_s } => now_s.saturating_sub(access),
            Access::Lfu { .. } => 0,
        }
    }

    /// The LFU counter after the decay owed since its last access (what OBJECT FREQ
    /// reports); under LRU, 0.
    pub fn lfu_counter(&self, access: u32) -> u8 {
        match *self {
            Access::Lru { .. } => 0,
            Access::Lfu {
                now_min, decay_min, ..
            } => {
                let counter = (access & 0xff) as u8;
                if decay_min == 0 {
                    return counter;
                }
                let elapsed = now_min.wrapping_sub(access >> 8) & LFU_MINUTES_MASK;
                let periods = elapsed / decay_min;
                counter.saturating_sub(periods.min(255) as u8)
            }
        }
    }

    /// How strongly eviction wants this entry gone: the longer idle, the less frequently
    /// used, the higher.
    fn evict_score(&self, access: u32) -> u64 {
        match self {
            Access::Lru { .. } => u64::from(self.idle_secs(access)),
            Access::Lfu { .. } => 255 - u64::from(self.lfu_counter(access)),
        }
    }
}

/// One probabilistic step of the LFU counter: always from below the initial value, then
/// with probability `1 / ((counter - LFU_INIT_VAL) * log_factor + 1)`, so that reaching
/// 255 takes about a million accesses at the default factor of 10.
fn log_increment(counter: u8, log_factor: u32) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    let p = 1.0 / (base * f64::from(log_factor) + 1.0);
    if p >= 1.0 || rand::thread_rng().gen::<f64>() < p {
        counter + 1
    } else {
        counter
    }
}

/// Score of an entry under `policy` (higher = evict sooner).
pub(crate) fn score(policy: Policy, clock: &Access, access: u32, expire_at: u64) -> u64 {
    if policy == Policy::VolatileTtl {
        // The sooner it expires, the better a candidate.
        u64::MAX - expire_at
    } else {
        clock.evict_score(access)
    }
}

/// How many candidates the pool keeps (as Redis's `EVPOOL_SIZE`).
pub const POOL_SIZE: usize = 16;

/// A key seen by sampling, with its score when it was seen.
#[derive(Debug)]
pub(crate) struct Candidate {
    pub score: u64,
    pub shard: usize,
    pub db: usize,
    pub key: Box<[u8]>,
}

/// The best candidates seen so far, kept across evictions (one per keyspace).
#[derive(Debug, Default)]
pub struct EvictionPool {
    /// Ascending by score: the best candidate is last.
    pub(crate) items: Vec<Candidate>,
    /// The shard the next sampling round reads.
    pub(crate) next_shard: usize,
}

impl EvictionPool {
    /// Offers a sampled key; it is kept if the pool has room or it beats the worst.
    /// A key already in the pool only has its score refreshed.
    pub(crate) fn offer(&mut self, score: u64, shard: usize, db: usize, key: &[u8]) {
        if let Some(i) = self.items.iter().position(|c| c.db == db && *c.key == *key) {
            let mut c = self.items.remove(i);
            c.score = score;
            return self.place(c);
        }
        if self.items.len() >= POOL_SIZE && self.items.first().is_some_and(|w| score <= w.score) {
            return;
        }
        self.place(Candidate {
            score,
            shard,
            db,
            key: key.into(),
        });
    }

    fn place(&mut self, c: Candidate) {
        let at = self.items.partition_point(|x| x.score <= c.score);
        self.items.insert(at, c);
        if self.items.len() > POOL_SIZE {
            self.items.remove(0);
        }
    }

    /// Takes the best candidate out.
    pub(crate) fn pop_best(&mut self) -> Option<Candidate> {
        self.items.pop()
    }

    /// Forgets every candidate (after FLUSHALL, or when the policy changes).
    pub fn clear(&mut self) {
        self.items.clear();
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// What one eviction did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evicted {
    /// Accounted bytes the removed entry was charged.
    pub bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse() {
        assert_eq!(Policy::parse("ALLKEYS-LRU"), Some(Policy::AllKeysLru));
        assert_eq!(Policy::parse("bogus"), None);
        assert!(Policy::VolatileTtl.volatile_only());
        assert!(!Policy::AllKeysLfu.volatile_only());
        assert!(Policy::VolatileLfu.is_lfu());
        assert!(!Policy::AllKeysRandom.ranked());
        assert!(!Policy::NoEviction.ranked());
    }

    #[test]
    fn lru_clock() {
        let c = Access::lru(10_500);
        let mut a = 0;
        c.touch(&mut a);
        assert_eq!(a, 10);
        assert_eq!(Access::lru(25_000).idle_secs(a), 15);
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let now = 60_000 * 1000;
        let c = Access::lfu(now, 10, 1);
        let mut a = c.initial();
        assert_eq!(c.lfu_counter(a), LFU_INIT_VAL);
        for _ in 0..100 {
            c.touch(&mut a);
        }
        let after100 = c.lfu_counter(a);
        // Redis's own table for factor 10: about 10 after 100 accesses.
        assert!(
            (7..16).contains(&after100),
            "100 hits at factor 10: {after100}"
        );
        // Factor 0: every access counts.
        let fast = Access::lfu(now, 0, 1);
        let mut b = fast.initial();
        for _ in 0..300 {
            fast.touch(&mut b);
        }
        assert_eq!(fast.lfu_counter(b), 255, "saturates");
        // Ten minutes later, with one period per minute: ten less.
        let later = Access::lfu(now + 10 * 60_000, 0, 1);
        assert_eq!(later.lfu_counter(b), 245);
        let never = Access::lfu(now + 10 * 60_000, 0, 0);
        assert_eq!(never.lfu_counter(b), 255, "decay time 0 never decays");
        let much_later = Access::lfu(now + 1000 * 60_000, 0, 1);
        assert_eq!(much_later.lfu_counter(b), 0);
    }

    #[test]
    fn pool_keeps_the_best() {
        let mut p = EvictionPool::default();
        for i in 0..40u64 {
            p.offer(i % 20, 0, 0, format!("k{i}").as_bytes());
        }
        assert_eq!(p.len(), POOL_SIZE);
        // Same key again: refreshed, not duplicated.
        p.offer(100, 0, 0, b"k19");
        assert_eq!(p.len(), POOL_SIZE);
        let best = p.pop_best().map(|c| (c.score, c.key));
        assert_eq!(best, Some((100, b"k19"[..].into())));
        let next = p.pop_best().map(|c| c.score);
        assert_eq!(next, Some(19));
    }
}
