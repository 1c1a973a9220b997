//! Fairness between databases that share an I/O thread.
//!
//! Every connection of one I/O thread waits in one run queue, whatever database it
//! belongs to. A database driven flat out by many connections would otherwise put a
//! whole round of its batches in front of a neighbour's single request. Each I/O
//! thread therefore accounts, per database, the time its batches take in short
//! windows; a database that has used more than its share of the current window while
//! another database was also active yields once before its next batch. The yield puts
//! its task behind the neighbour's already-queued one, so the neighbour waits behind
//! at most one batch. With one active database (or a standalone node) nothing
//! changes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Length of an accounting window.
const WINDOW: Duration = Duration::from_millis(1);
/// A database may use this fraction of a window before it yields to others.
const SHARE_NUM: u32 = 1;
const SHARE_DEN: u32 = 2;

#[derive(Default)]
struct Slot {
    /// Window the counters belong to.
    window: u64,
    used: Duration,
    /// The last window in which this database ran a batch.
    last_active: u64,
}

struct Thread {
    epoch: Instant,
    slots: HashMap<usize, Slot>,
}

thread_local! {
    static STATE: RefCell<Thread> = RefCell::new(Thread {
        epoch: Instant::now(),
        slots: HashMap::new(),
    });
}

fn window_of(epoch: Instant, now: Instant) -> u64 {
    (now.duration_since(epoch).as_micros() / WINDOW.as_micros()) as u64
}

/// Whether the database `key` (an instance's address) should yield before its next
/// batch on this thread.
pub fn should_yield(key: usize) -> bool {
    STATE.with(|s| {
        let s = s.borrow();
        let w = window_of(s.epoch, Instant::now());
        let Some(me) = s.slots.get(&key) else {
            return false;
        };
        if me.window != w || me.used * SHARE_DEN < WINDOW * SHARE_NUM {
            return false;
        }
        // Someone else ran here in this window or the previous one.
        s.slots
            .iter()
            .any(|(k, o)| *k != key && o.last_active + 1 >= w)
    })
}

/// Records that a batch of database `key` took `took` ending now.
pub fn record(key: usize, took: Duration) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let w = window_of(s.epoch, Instant::now());
        let slot = s.slots.entry(key).or_default();
        if slot.window != w {
            slot.window = w;
            slot.used = Duration::ZERO;
        }
        slot.used += took;
        slot.last_active = w;
        // Forget databases idle for a while, so the map stays small.
        if s.slots.len() > 64 {
            s.slots.retain(|_, o| o.last_active + 1000 >= w);
        }
    })
}
