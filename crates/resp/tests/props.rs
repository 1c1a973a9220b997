//! Property tests for the request decoder and the frame parser.

#![allow(clippy::unwrap_used)] // tests may unwrap

use bytes::Bytes;
use proptest::prelude::*;
use resp::frame::{parse, FrameParser};
use resp::{Decoded, Frame, Limits, ProtocolError, RequestDecoder};

type Cmd = Vec<Vec<u8>>;

/// Feeds `input` to a decoder in chunks of the given sizes (cycled), the way a
/// connection would, and returns the non-empty commands and the error, if any.
/// Checks the decoder's invariants on every call.
fn feed(
    dec: &mut RequestDecoder,
    input: &[u8],
    sizes: &[usize],
    auth: bool,
) -> (Vec<Cmd>, Option<ProtocolError>) {
    let mut qbuf: Vec<u8> = Vec::new();
    let mut cmds = Vec::new();
    let mut at = 0;
    let mut k = 0;
    while at < input.len() {
        let n = sizes[k % sizes.len()].max(1).min(input.len() - at);
        k += 1;
        qbuf.extend_from_slice(&input[at..at + n]);
        at += n;
        loop {
            match dec.decode(&qbuf, auth) {
                Ok(Decoded::Incomplete { need }) => {
                    if let Some(need) = need {
                        assert!(need > qbuf.len());
                    }
                    break;
                }
                Ok(Decoded::Command { consumed }) => {
                    assert!(consumed > 0 && consumed <= qbuf.len());
                    let mut args = Vec::new();
                    dec.args(&qbuf, &mut args);
                    assert_eq!(args.len(), dec.arg_count());
                    for (i, a) in args.iter().enumerate() {
                        assert_eq!(*a, dec.arg(&qbuf, i));
                    }
                    if !args.is_empty() {
                        cmds.push(args.iter().map(|a| a.to_vec()).collect());
                    }
                    qbuf.drain(..consumed);
                }
                Err(e) => return (cmds, Some(e)),
            }
        }
    }
    (cmds, None)
}

fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..12),
        1 => proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'$'), Just(b'*')], 0..6),
        1 => proptest::collection::vec(any::<u8>(), 0..3000),
    ]
}

fn commands() -> impl Strategy<Value = Vec<Cmd>> {
    proptest::collection::vec(proptest::collection::vec(arg(), 1..8), 0..12)
}

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..64, 1..16)
}

/// Bytes that look like RESP often enough to reach deep states.
fn protocolish() -> impl Strategy<Value = Vec<u8>> {
    let tokens = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"'".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"\\x4".to_vec()),
        Just(b" ".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"0".to_vec()),
        Just(b"3".to_vec()),
        Just(b"17000".to_vec()),
        Just(b"2147483648".to_vec()),
        proptest::collection::vec(any::<u8>(), 1..4),
    ];
    proptest::collection::vec(tokens, 0..60).prop_map(|v| v.concat())
}

fn simple_text() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |c| *c != b'\r' && *c != b'\n'),
        0..10,
    )
    .prop_map(Bytes::from)
}

fn bytes_any() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..20).prop_map(Bytes::from)
}

fn frame() -> impl Strategy<Value = Frame> {
    let leaf = prop_oneof![
        simple_text().prop_map(Frame::Simple),
        bytes_any().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        bytes_any().prop_map(Frame::Bulk),
        Just(Frame::NullBulk),
        Just(Frame::NullArray),
        Just(Frame::Null),
        simple_text().prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        simple_text().prop_map(Frame::BigNumber),
        (proptest::collection::vec(any::<u8>(), 3), bytes_any()).prop_map(|(f, t)| {
            Frame::Verbatim {
                format: Bytes::from(f),
                text: t,
            }
        }),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        let list = proptest::collection::vec(inner.clone(), 0..6);
        let pairs = proptest::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            list.clone().prop_map(Frame::Array),
            list.clone().prop_map(Frame::Set),
            list.prop_map(Frame::Push),
            pairs.clone().prop_map(Frame::Map),
            (pairs, inner).prop_map(|(attrs, value)| Frame::Attribute {
                attrs,
                value: Box::new(value)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// (a) Multibulk commands fed in random chunk sizes decode to exactly their arguments.
    #[test]
    fn multibulk_round_trip(cmds in commands(), sizes in sizes()) {
        let mut input = Vec::new();
        for c in &cmds {
            let refs: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
            input.extend_from_slice(&Frame::command(&refs));
        }
        let mut dec = RequestDecoder::default();
        let (got, err) = feed(&mut dec, &input, &sizes, true);
        prop_assert_eq!(err, None);
        prop_assert_eq!(got, cmds);
    }

    /// Inline commands made of plain and quoted words, in random chunks.
    #[test]
    fn inline_round_trip(
        cmds in proptest::collection::vec(
            proptest::collection::vec("[a-zA-Z0-9_:.-]{1,8}", 1..6), 0..10),
        crlf in any::<bool>(),
        quote in any::<bool>(),
        sizes in sizes(),
    ) {
        let mut input = String::new();
        for c in &cmds {
            let words: Vec<String> = c.iter().map(|w| if quote { format!("\"{w}\"") } else { w.clone() }).collect();
            input.push_str(&words.join(" "));
            input.push_str(if crlf { "\r\n" } else { "\n" });
        }
        let expect: Vec<Cmd> = cmds.iter().map(|c| c.iter().map(|w| w.as_bytes().to_vec()).collect()).collect();
        let (got, err) = feed(&mut RequestDecoder::default(), input.as_bytes(), &sizes, true);
        prop_assert_eq!(err, None);
        prop_assert_eq!(got, expect);
    }

    /// (b) Arbitrary bytes never panic, and the outcome does not depend on chunking.
    #[test]
    fn arbitrary_bytes(
        input in prop_oneof![proptest::collection::vec(any::<u8>(), 0..400), protocolish()],
        sizes in sizes(),
        auth in any::<bool>(),
        small in any::<bool>(),
    ) {
        let limits = if small {
            Limits { max_bulk_len: 20, max_multibulk_len: 5, max_inline_len: 16 }
        } else {
            Limits::default()
        };
        let whole = feed(&mut RequestDecoder::new(limits.clone()), &input, &[usize::MAX], auth);
        let chunked = feed(&mut RequestDecoder::new(limits.clone()), &input, &sizes, auth);
        // "Too big" errors depend on how much is buffered at once (as in Redis), so only
        // compare the commands decoded before any error when one of them is involved.
        let too_big = |e: &Option<ProtocolError>| matches!(e, Some(
            ProtocolError::TooBigInlineRequest
                | ProtocolError::TooBigBulkCount
                | ProtocolError::TooBigMultibulkCount));
        if too_big(&whole.1) || too_big(&chunked.1) {
            let n = whole.0.len().min(chunked.0.len());
            prop_assert_eq!(&whole.0[..n], &chunked.0[..n]);
        } else {
            prop_assert_eq!(whole, chunked);
        }
    }

    /// (c) Frames survive encode -> parse, whole, pipelined and in chunks.
    #[test]
    fn frame_round_trip(f in frame(), g in frame(), step in 1usize..32) {
        let mut enc = Vec::new();
        f.encode(&mut enc);
        let first = enc.len();
        g.encode(&mut enc);
        let (got, used) = parse(&enc).unwrap().unwrap();
        prop_assert_eq!(used, first);
        prop_assert_eq!(&got, &f);
        let (got, used) = parse(&enc[first..]).unwrap().unwrap();
        prop_assert_eq!(used, enc.len() - first);
        prop_assert_eq!(&got, &g);
        prop_assert_eq!(parse(&enc[..first - 1]), Ok(None));

        let mut p = FrameParser::new();
        let mut end = 0;
        let got = loop {
            end = (end + step).min(first);
            if let Some(r) = p.parse(&enc[..end]).unwrap() {
                break r;
            }
            prop_assert!(end < first);
        };
        prop_assert_eq!(got, (f, first));
    }

    /// Arbitrary bytes never panic the frame parser; a frame it returns re-encodes to
    /// something it parses to the same frame.
    #[test]
    fn frame_arbitrary_bytes(input in prop_oneof![proptest::collection::vec(any::<u8>(), 0..300), protocolish()]) {
        if let Ok(Some((f, used))) = parse(&input) {
            prop_assert!(used <= input.len());
            let enc = f.to_vec();
            prop_assert_eq!(parse(&enc).unwrap().unwrap().0, f);
        }
    }
}
