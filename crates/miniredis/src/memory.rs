//! Memory figures from jemalloc for INFO memory.

use commands::instance::{proc_memory, MemoryStats};
use tikv_jemalloc_ctl::{epoch, stats};

/// Asks jemalloc what it has handed out and what is resident.
pub fn probe() -> MemoryStats {
    let mut m = proc_memory();
    // Statistics are cached by jemalloc until the epoch advances.
    if epoch::advance().is_ok() {
        if let Ok(a) = stats::allocated::read() {
            m.allocated = a as u64;
        }
    }
    m.allocator = "jemalloc-5.3.0";
    m
}

/// Bytes jemalloc has handed out, up to date: what a standalone node's maxmemory is
/// compared with (0 if jemalloc cannot say, which makes the node fall back to its
/// accounted bytes until the next sample).
pub fn allocated() -> u64 {
    if epoch::advance().is_err() {
        return 0;
    }
    stats::allocated::read().map_or(0, |a| a as u64)
}
