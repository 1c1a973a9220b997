//! What a handler gets: the instance, its client, the reply writer and the locked shards.

use engine::{Access, Locked};
use resp::ReplyWriter;

use crate::client::Client;
use crate::instance::Instance;

pub struct Ctx<'a, 'k> {
    /// The server instance (one database of the platform, or the whole `node`).
    pub inst: &'a Instance,
    /// The calling connection's state.
    pub client: &'a mut Client,
    /// Where the reply goes.
    pub out: &'a mut ReplyWriter,
    /// The shards dispatch locked for this command's keys (all of them under
    /// MULTI/EXEC, scripts and ALL_SHARDS commands).
    pub ks: &'a mut Locked<'k>,
    /// The command's clock, read once per command (Unix ms), as Redis caches `mstime`.
    pub now_ms: u64,
    /// How this command records key accesses (LRU time or LFU counter, per the
    /// instance's maxmemory-policy), read once per command with the clock.
    pub access: Access,
    /// The command's arguments, name first.
    pub argv: &'a [&'a [u8]],
}

impl Ctx<'_, '_> {
    /// The client's selected logical database.
    pub fn db(&self) -> usize {
        self.client.db
    }

    /// Publishes the keyspace event `event` of class `class` (a
    /// [`crate::pubsub::class`] bit) for `key` in the client's database, if
    /// `notify-keyspace-events` asks for it: call it where Redis calls
    /// notifyKeyspaceEvent. Costs one relaxed load when notifications are off.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        let flags = self.inst.notify_flags();
        if flags & (class | crate::tracking::ACTIVE) != 0 {
            let db = self.client.db;
            self.notify_slow(flags, class, event, key, db);
        }
    }

    /// [`notify`](Self::notify) for a key in another logical database (MOVE, COPY DB).
    #[inline]
    pub fn notify_db(&mut self, class: u32, event: &str, key: &[u8], db: usize) {
        let flags = self.inst.notify_flags();
        if flags & (class | crate::tracking::ACTIVE) != 0 {
            self.notify_slow(flags, class, event, key, db);
        }
    }

    #[cold]
    fn notify_slow(&mut self, flags: u32, class: u32, event: &str, key: &[u8], db: usize) {
        let me = crate::pubsub::own_outbox(self.client).cloned();
        let cur = self.client.info.id;
        // What the engine did first (a key found expired by this command's lookup)
        // is told first.
        crate::pubsub::engine_events(self.inst, me.as_ref(), cur, self.out);
        if flags & class != 0 {
            crate::pubsub::keyspace_event(self.inst, flags, event, key, db, me.as_ref(), self.out);
        }
        // A modification (not a miss, not the "new" side event) invalidates the key
        // for the clients that track it, as Redis's signalModifiedKey.
        use crate::pubsub::class::{KEY_MISS, NEW};
        if flags & crate::tracking::ACTIVE != 0 && class & (KEY_MISS | NEW) == 0 {
            crate::tracking::invalidate(self.inst, key, cur, cur, true, self.out);
        }
    }

    /// Writes an error reply and counts it for `INFO errorstats`.
    pub fn error(&mut self, msg: &str) {
        self.inst.stats.record_error(msg);
        self.client.last_command_failed = true;
        self.out.error(msg);
    }
}
