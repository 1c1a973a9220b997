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

    /// Writes an error reply and counts it for `INFO errorstats`.
    pub fn error(&mut self, msg: &str) {
        self.inst.stats.record_error(msg);
        self.client.last_command_failed = true;
        self.out.error(msg);
    }
}
