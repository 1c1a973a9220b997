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
