//! Fuzzes the client-side frame parser: no panics, in-bounds lengths, the same answer
//! whether the bytes arrive whole or in chunks, and encode -> parse round trips.

#![no_main]

use libfuzzer_sys::fuzz_target;
use resp::frame::{parse, FrameParser};

fuzz_target!(|input: &[u8]| {
    let Some((&step, data)) = input.split_first() else {
        return;
    };
    let whole = parse(data);
    if let Ok(Some((frame, used))) = &whole {
        assert!(*used > 0 && *used <= data.len());
        let enc = frame.to_vec();
        let (again, n) = parse(&enc)
            .expect("re-encoded frame parses")
            .expect("complete");
        assert_eq!(n, enc.len());
        assert_eq!(&again, frame);
    }

    // Feeding growing prefixes to a resumable parser gives the same result.
    let step = usize::from(step % 32) + 1;
    let mut p = FrameParser::new();
    let mut end = 0;
    let chunked = loop {
        end = (end + step).min(data.len());
        match p.parse(&data[..end]) {
            Ok(None) if end < data.len() => continue,
            other => break other,
        }
    };
    assert_eq!(chunked, whole);
});
