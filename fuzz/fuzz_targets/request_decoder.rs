//! Fuzzes the request decoder the way a connection drives it: bytes arrive in chunks
//! (sizes derived from the input), complete commands are consumed from the front of the
//! query buffer. Checks that it never panics, that its answers are in bounds, and that
//! chunking does not change the outcome.

#![no_main]

use libfuzzer_sys::fuzz_target;
use resp::{Decoded, Frame, Limits, ProtocolError, RequestDecoder};

type Outcome = (Vec<Vec<Vec<u8>>>, Option<ProtocolError>);

/// A tiny deterministic generator for chunk sizes.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

fn run(limits: &Limits, data: &[u8], auth: bool, mut chunk: impl FnMut() -> usize) -> Outcome {
    let mut dec = RequestDecoder::new(limits.clone());
    let mut qbuf: Vec<u8> = Vec::new();
    let mut cmds = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let n = chunk().clamp(1, data.len() - at);
        qbuf.extend_from_slice(&data[at..at + n]);
        at += n;
        loop {
            match dec.decode(&qbuf, auth) {
                Ok(Decoded::Incomplete { need }) => {
                    if let Some(need) = need {
                        assert!(need > qbuf.len(), "need {need} <= {}", qbuf.len());
                    }
                    break;
                }
                Ok(Decoded::Command { consumed }) => {
                    assert!(consumed > 0 && consumed <= qbuf.len());
                    let mut args = Vec::new();
                    dec.args(&qbuf, &mut args);
                    assert_eq!(args.len(), dec.arg_count());
                    let range = qbuf.as_ptr_range();
                    let multibulk = qbuf[0] == b'*';
                    let mut total = 0;
                    for (i, a) in args.iter().enumerate() {
                        assert_eq!(*a, dec.arg(&qbuf, i));
                        let inside = range.contains(&a.as_ptr())
                            && a.as_ptr() as usize + a.len() <= range.end as usize;
                        if multibulk || inside {
                            // Arguments that borrow the buffer lie within this command.
                            assert!(a.is_empty() || inside);
                            assert!(
                                a.is_empty()
                                    || a.as_ptr() as usize + a.len()
                                        <= qbuf.as_ptr() as usize + consumed
                            );
                        }
                        total += a.len();
                    }
                    assert!(total <= consumed);
                    if !args.is_empty() {
                        cmds.push(args.iter().map(|a| a.to_vec()).collect());
                    }
                    qbuf.drain(..consumed);
                }
                Err(e) => {
                    assert!(e.reply_text().starts_with("ERR Protocol error: "));
                    return (cmds, Some(e));
                }
            }
        }
    }
    (cmds, None)
}

fuzz_target!(|input: &[u8]| {
    let Some((&[flags, s0, s1, s2], data)) = input.split_first_chunk::<4>() else {
        return;
    };
    let auth = flags & 1 == 0;
    let limits = if flags & 2 != 0 {
        Limits {
            max_bulk_len: 64,
            max_multibulk_len: 8,
            max_inline_len: 32,
        }
    } else {
        Limits::default()
    };
    let max = usize::from(s2 % 64) + 1;
    let mut rng = Rng(u32::from_le_bytes([s0, s1, s2, 0x5a]) | 1);
    let chunked = run(&limits, data, auth, || rng.next() as usize % max + 1);
    let whole = run(&limits, data, auth, || usize::MAX);

    // How much is buffered at once decides "too big" errors (as in Redis); otherwise
    // the outcome must not depend on chunking.
    let too_big = |e: &Option<ProtocolError>| {
        matches!(
            e,
            Some(
                ProtocolError::TooBigInlineRequest
                    | ProtocolError::TooBigBulkCount
                    | ProtocolError::TooBigMultibulkCount
            )
        )
    };
    if too_big(&chunked.1) || too_big(&whole.1) {
        let n = chunked.0.len().min(whole.0.len());
        assert_eq!(chunked.0[..n], whole.0[..n]);
    } else {
        assert_eq!(chunked, whole);
    }

    // Re-encoding what was decoded as multibulk decodes to the same commands.
    if whole.1.is_none() && !too_big(&chunked.1) {
        let mut again = Vec::new();
        for c in &whole.0 {
            let refs: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
            again.extend_from_slice(&Frame::command(&refs));
        }
        let big = Limits::default();
        let decoded = run(&big, &again, true, || usize::MAX);
        assert_eq!(decoded, (whole.0, None));
    }
});
