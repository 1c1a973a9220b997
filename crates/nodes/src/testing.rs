//! Helpers for tests and benchmarks that run databases on loopback ports.

use std::net::TcpListener;

/// `n` consecutive loopback ports nobody listens on right now, below the kernel's
/// ephemeral range, so no client socket of a concurrent test is handed one of them
/// as its local port between this check and the test's bind.
pub fn free_range(n: u16) -> (u16, u16) {
    let mut seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7);
    'outer: for _ in 0..1000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let base = 20000 + ((seed >> 33) % (12000 - n as u64)) as u16;
        for p in base..base + n {
            if TcpListener::bind(("127.0.0.1", p)).is_err() {
                continue 'outer;
            }
        }
        return (base, base + n - 1);
    }
    panic!("no free port range of {n}");
}
