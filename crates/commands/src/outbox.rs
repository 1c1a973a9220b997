//! A connection's outbound queue: bytes other connections (or other I/O threads) want
//! written to this connection's socket while it is idle — MONITOR lines today, pub/sub
//! messages next. The producer appends and wakes the connection; the connection loop
//! selects on [`Outbox::notified`] beside its socket read, and also drains the queue
//! after every batch of its own replies.
//!
//! The queue is bytes already encoded in the connection's protocol, appended under a
//! short lock. It is bounded: a consumer that does not read is cut off (the producer
//! sees [`Outbox::push`] fail and kills the client), as Redis's output buffer limits do.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

/// Most bytes queued before the connection is considered unable to keep up.
pub const OUTBOX_LIMIT: usize = 64 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct Outbox {
    queue: Mutex<Vec<u8>>,
    /// Bytes in `queue` (read without the lock: CLIENT LIST `omem`, the idle check).
    pending: AtomicUsize,
    notify: tokio::sync::Notify,
}

impl Outbox {
    /// Queues `bytes` and wakes the connection. Returns false (and queues nothing) when
    /// the queue is over [`OUTBOX_LIMIT`].
    pub fn push(&self, bytes: &[u8]) -> bool {
        let mut q = self.queue.lock();
        if q.len() + bytes.len() > OUTBOX_LIMIT {
            return false;
        }
        let was_empty = q.is_empty();
        q.extend_from_slice(bytes);
        self.pending.store(q.len(), Relaxed);
        drop(q);
        if was_empty {
            self.notify.notify_one();
        }
        true
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.pending.load(Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves everything queued to the end of `out`.
    pub fn drain_into(&self, out: &mut Vec<u8>) {
        if self.is_empty() {
            return;
        }
        let mut q = self.queue.lock();
        out.extend_from_slice(&q);
        q.clear();
        // A queue that held a burst gives its memory back.
        if q.capacity() > 1024 * 1024 {
            q.shrink_to(16 * 1024);
        }
        self.pending.store(0, Relaxed);
    }

    /// Completes when something was queued since the last wake-up (a permit is kept if
    /// nobody waits, so a push between two waits is not lost).
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// Drops whatever is queued (the connection left the mode that fed it).
    pub fn clear(&self) {
        let mut q = self.queue.lock();
        q.clear();
        self.pending.store(0, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_in_order_and_drains() {
        let o = Outbox::default();
        assert!(o.is_empty());
        assert!(o.push(b"+a\r\n"));
        assert!(o.push(b"+b\r\n"));
        assert_eq!(o.len(), 8);
        let mut out = b"x".to_vec();
        o.drain_into(&mut out);
        assert_eq!(out, b"x+a\r\n+b\r\n");
        assert!(o.is_empty());
        o.drain_into(&mut out);
        assert_eq!(out.len(), 9);
    }

    #[test]
    fn refuses_past_the_limit() {
        let o = Outbox::default();
        let big = vec![b'x'; OUTBOX_LIMIT / 2 + 1];
        assert!(o.push(&big));
        assert!(!o.push(&big));
        assert_eq!(o.len(), big.len());
        o.clear();
        assert!(o.is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_push_before_the_wait_is_not_lost() {
        let o = Outbox::default();
        o.push(b"+x\r\n");
        tokio::time::timeout(std::time::Duration::from_secs(1), o.notified())
            .await
            .expect("woken by the earlier push");
    }
}
