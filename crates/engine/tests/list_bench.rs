//! Micro-measurements of the list (packed nodes) against the obvious alternative, a
//! `VecDeque<Box<[u8]>>`: pushes and pops at both ends, LINDEX-style random access,
//! LRANGE-style iteration, and memory per element. Ignored by default; run in release:
//!
//! ```text
//! cargo test -p engine --release --test list_bench -- --ignored --nocapture --test-threads 1
//! ```

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Instant;

use engine::types::List;
use engine::value::alloc_size;

const N: usize = 2_000_000;
const V: &[u8] = b"xxx";

fn time(name: &str, ops: usize, f: impl FnOnce()) {
    let t = Instant::now();
    f();
    println!(
        "{name:44} {:8.1} ns/op",
        t.elapsed().as_nanos() as f64 / ops as f64
    );
}

#[test]
#[ignore]
fn list_against_vecdeque() {
    let mut l = List::new();
    time("packed: LPUSH", N, || {
        for _ in 0..N {
            l.push_front(black_box(V));
        }
    });
    println!(
        "  packed: {:.1} heap bytes per 3-byte element",
        l.heap_bytes() as f64 / l.len() as f64
    );
    time("packed: LINDEX at random", 100_000, || {
        let mut x = 0;
        for i in 0..100_000usize {
            x += l.get(black_box(i * 7919 % N)).map_or(0, <[u8]>::len);
        }
        black_box(x);
    });
    time("packed: LRANGE 100 mid-list, per element", 100_000, || {
        let mut x = 0;
        for i in 0..1000 {
            x += l
                .iter_from(N / 2 + i)
                .take(100)
                .map(<[u8]>::len)
                .sum::<usize>();
        }
        black_box(x);
    });
    time("packed: LPOP", N, || {
        let mut x = 0;
        for _ in 0..N {
            x += l.pop_front_with(<[u8]>::len).unwrap_or(0);
        }
        black_box(x);
    });
    time("packed: RPUSH", N, || {
        for _ in 0..N {
            l.push_back(black_box(V));
        }
    });
    time("packed: RPOP", N, || {
        let mut x = 0;
        for _ in 0..N {
            x += l.pop_back_with(<[u8]>::len).unwrap_or(0);
        }
        black_box(x);
    });

    let mut d: VecDeque<Box<[u8]>> = VecDeque::new();
    time("VecDeque<Box<[u8]>>: LPUSH", N, || {
        for _ in 0..N {
            d.push_front(black_box(V).into());
        }
    });
    let heap = alloc_size(d.capacity() * 16) + d.len() * alloc_size(V.len());
    println!(
        "  VecDeque: {:.1} heap bytes per 3-byte element",
        heap as f64 / d.len() as f64
    );
    time("VecDeque<Box<[u8]>>: LINDEX at random", 100_000, || {
        let mut x = 0;
        for i in 0..100_000usize {
            x += d.get(black_box(i * 7919 % N)).map_or(0, |v| v.len());
        }
        black_box(x);
    });
    time("VecDeque<Box<[u8]>>: LPOP", N, || {
        let mut x = 0;
        for _ in 0..N {
            x += d.pop_front().map_or(0, |v| v.len());
        }
        black_box(x);
    });
}
