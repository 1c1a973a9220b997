//! A full RESP2/RESP3 frame model and parser for the client side: tests, the CLI,
//! capturing script calls, proxies.
//!
//! [`parse`] reads one complete frame from the start of a buffer (or reports that more
//! bytes are needed). [`FrameParser`] does the same but remembers its progress between
//! calls, so a huge reply arriving in many pieces is parsed in linear time.
//!
//! The parser is iterative (no recursion), limits nesting to [`MAX_DEPTH`], and never
//! reserves room for more elements than [`MAX_PREALLOC`] on the word of a length header,
//! so a hostile peer cannot exhaust the stack or reserve memory it has not sent.
//!
//! Streamed RESP3 strings and aggregates (`$?`, `*?`) are not supported: Redis never
//! sends them. A blob error (`!`) is parsed as [`Frame::Error`], and an error holding CR
//! or LF is encoded as one.

use bytes::Bytes;
use memchr::memchr;
use thiserror::Error;

/// Deepest nesting of aggregates (attributes count) [`parse`] accepts.
pub const MAX_DEPTH: usize = 1024;
/// Most elements reserved up front for one aggregate, whatever its header claims.
pub const MAX_PREALLOC: usize = 1024;

/// One RESP2 or RESP3 value.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    Simple(Bytes),
    Error(Bytes),
    Integer(i64),
    Bulk(Bytes),
    /// RESP2 `$-1`.
    NullBulk,
    /// RESP2 `*-1`.
    NullArray,
    /// RESP3 `_`.
    Null,
    Array(Vec<Frame>),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Push(Vec<Frame>),
    /// The raw text after `,`, so comparisons are exact.
    Double(Bytes),
    Boolean(bool),
    BigNumber(Bytes),
    /// `format` is the three-letter type (`txt`, `mkd`).
    Verbatim {
        format: Bytes,
        text: Bytes,
    },
    Attribute {
        attrs: Vec<(Frame, Frame)>,
        value: Box<Frame>,
    },
}

/// A malformed frame.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("unknown frame type byte 0x{0:02x}")]
    InvalidType(u8),
    #[error("invalid length")]
    InvalidLength,
    #[error("invalid integer")]
    InvalidInteger,
    #[error("expected CRLF")]
    MissingCrlf,
    #[error("invalid boolean")]
    InvalidBoolean,
    #[error("invalid null")]
    InvalidNull,
    #[error("invalid verbatim string")]
    InvalidVerbatim,
    #[error("frame nesting deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Parses one frame from the start of `buf`; `Ok(None)` if incomplete. Returns the frame
/// and the number of bytes it used.
pub fn parse(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    FrameParser::new().parse(buf)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Array,
    Map,
    Set,
    Push,
    Attribute,
}

/// An aggregate whose elements are still arriving.
#[derive(Debug)]
struct Open {
    kind: Kind,
    /// Elements in total (for maps and attributes, keys and values counted separately,
    /// plus the attributed value).
    expected: usize,
    items: Vec<Frame>,
}

impl Open {
    fn finish(self) -> Frame {
        match self.kind {
            Kind::Array => Frame::Array(self.items),
            Kind::Set => Frame::Set(self.items),
            Kind::Push => Frame::Push(self.items),
            Kind::Map => Frame::Map(pairs(self.items)),
            Kind::Attribute => {
                let mut items = self.items;
                // `expected` is odd and reached, so there is a last item.
                let value = items.pop().unwrap_or(Frame::Null);
                Frame::Attribute {
                    attrs: pairs(items),
                    value: Box::new(value),
                }
            }
        }
    }
}

fn pairs(items: Vec<Frame>) -> Vec<(Frame, Frame)> {
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

/// What one step of parsing produced.
enum Step {
    Value(Frame),
    Open(Kind, usize),
}

/// A resumable frame parser. Call [`FrameParser::parse`] with a buffer that starts at the
/// first byte of a frame; after `Ok(None)` call again with a longer buffer starting at
/// the same byte. After a frame or an error the parser is ready for the next frame.
#[derive(Debug, Default)]
pub struct FrameParser {
    stack: Vec<Open>,
    /// Offset of the first element not yet parsed.
    pos: usize,
    /// Where to continue looking for the `\r` ending the line at `pos`.
    scan: usize,
}

impl FrameParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets a partially parsed frame.
    pub fn reset(&mut self) {
        self.stack.clear();
        self.pos = 0;
        self.scan = 0;
    }

    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        if self.pos > buf.len() || self.scan > buf.len() {
            // A shorter buffer than last time breaks the contract; start over safely.
            self.reset();
        }
        let r = self.run(buf);
        if r.is_err() {
            self.reset();
        }
        r
    }

    fn run(&mut self, buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        loop {
            let mut frame = match self.step(buf)? {
                None => return Ok(None),
                Some(Step::Value(f)) => f,
                Some(Step::Open(kind, expected)) => {
                    if expected > 0 {
                        if self.stack.len() >= MAX_DEPTH {
                            return Err(FrameError::TooDeep);
                        }
                        self.stack.push(Open {
                            kind,
                            expected,
                            items: Vec::with_capacity(expected.min(MAX_PREALLOC)),
                        });
                        continue;
                    }
                    Open {
                        kind,
                        expected,
                        items: Vec::new(),
                    }
                    .finish()
                }
            };
            // Hand the finished value to its parent, closing every aggregate it completes.
            loop {
                let Some(top) = self.stack.last_mut() else {
                    let used = self.pos;
                    self.reset();
                    return Ok(Some((frame, used)));
                };
                top.items.push(frame);
                if top.items.len() < top.expected {
                    break;
                }
                match self.stack.pop() {
                    Some(done) => frame = done.finish(),
                    None => break,
                }
            }
        }
    }

    /// Finds the line at `pos` (after the type byte); returns the offset of its `\r`.
    fn line(&mut self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        let from = self.scan.max(self.pos + 1);
        let Some(off) = memchr(b'\r', buf.get(from..).unwrap_or(&[])) else {
            self.scan = buf.len().max(self.pos + 1);
            return Ok(None);
        };
        let cr = from + off;
        match buf.get(cr + 1) {
            None => {
                self.scan = cr;
                Ok(None)
            }
            Some(b'\n') => Ok(Some(cr)),
            Some(_) => Err(FrameError::MissingCrlf),
        }
    }

    /// Parses one element at `pos`: a whole scalar or an aggregate header.
    fn step(&mut self, buf: &[u8]) -> Result<Option<Step>, FrameError> {
        let Some(&tag) = buf.get(self.pos) else {
            return Ok(None);
        };
        if !matches!(
            tag,
            b'+' | b'-'
                | b':'
                | b'$'
                | b'*'
                | b'%'
                | b'~'
                | b'>'
                | b'|'
                | b'_'
                | b','
                | b'#'
                | b'('
                | b'='
                | b'!'
        ) {
            return Err(FrameError::InvalidType(tag));
        }
        let Some(cr) = self.line(buf)? else {
            return Ok(None);
        };
        let text = &buf[self.pos + 1..cr];
        let after = cr + 2;
        let step = match tag {
            b'+' => Step::Value(Frame::Simple(Bytes::copy_from_slice(text))),
            b'-' => Step::Value(Frame::Error(Bytes::copy_from_slice(text))),
            b':' => Step::Value(Frame::Integer(
                parse_int(text).ok_or(FrameError::InvalidInteger)?,
            )),
            b',' => Step::Value(Frame::Double(Bytes::copy_from_slice(text))),
            b'(' => Step::Value(Frame::BigNumber(Bytes::copy_from_slice(text))),
            b'#' => Step::Value(Frame::Boolean(match text {
                b"t" => true,
                b"f" => false,
                _ => return Err(FrameError::InvalidBoolean),
            })),
            b'_' => {
                if !text.is_empty() {
                    return Err(FrameError::InvalidNull);
                }
                Step::Value(Frame::Null)
            }
            b'$' | b'=' | b'!' => {
                let n = parse_int(text).ok_or(FrameError::InvalidLength)?;
                if n == -1 && tag == b'$' {
                    Step::Value(Frame::NullBulk)
                } else {
                    let n = usize::try_from(n).map_err(|_| FrameError::InvalidLength)?;
                    let end = after.checked_add(n).ok_or(FrameError::InvalidLength)?;
                    let Some(tail) = buf.get(end..end.saturating_add(2)) else {
                        return Ok(None);
                    };
                    if tail.len() < 2 {
                        return Ok(None);
                    }
                    if tail != b"\r\n" {
                        return Err(FrameError::MissingCrlf);
                    }
                    let payload = &buf[after..end];
                    self.pos = end + 2;
                    self.scan = self.pos;
                    return Ok(Some(Step::Value(match tag {
                        b'$' => Frame::Bulk(Bytes::copy_from_slice(payload)),
                        b'!' => Frame::Error(Bytes::copy_from_slice(payload)),
                        _ => {
                            if payload.len() < 4 || payload[3] != b':' {
                                return Err(FrameError::InvalidVerbatim);
                            }
                            Frame::Verbatim {
                                format: Bytes::copy_from_slice(&payload[..3]),
                                text: Bytes::copy_from_slice(&payload[4..]),
                            }
                        }
                    })));
                }
            }
            _ => {
                let n = parse_int(text).ok_or(FrameError::InvalidLength)?;
                if n == -1 && tag == b'*' {
                    Step::Value(Frame::NullArray)
                } else {
                    let n = usize::try_from(n).map_err(|_| FrameError::InvalidLength)?;
                    let (kind, expected) = match tag {
                        b'*' => (Kind::Array, Some(n)),
                        b'~' => (Kind::Set, Some(n)),
                        b'>' => (Kind::Push, Some(n)),
                        b'%' => (Kind::Map, n.checked_mul(2)),
                        _ => (
                            Kind::Attribute,
                            n.checked_mul(2).and_then(|m| m.checked_add(1)),
                        ),
                    };
                    Step::Open(kind, expected.ok_or(FrameError::InvalidLength)?)
                }
            }
        };
        self.pos = after;
        self.scan = after;
        Ok(Some(step))
    }
}

/// A RESP integer: optional sign, then at least one decimal digit.
fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        // Accumulate negatively so i64::MIN parses.
        v = v.checked_mul(10)?.checked_sub(d)?;
    }
    if neg {
        Some(v)
    } else {
        v.checked_neg()
    }
}

fn header(out: &mut Vec<u8>, tag: u8, n: usize) {
    out.push(tag);
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn line(out: &mut Vec<u8>, tag: u8, text: &[u8]) {
    out.push(tag);
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

impl Frame {
    /// Appends the exact RESP bytes for this frame. Simple strings, doubles and big
    /// numbers are written as they are (the caller keeps CR and LF out of them); errors
    /// holding CR or LF are written as RESP3 blob errors (`!`); a
    /// verbatim `format` should be three bytes long to parse back identically.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Simple(s) => line(out, b'+', s),
            // A simple error cannot hold CR or LF; RESP3's blob error can (it is what a
            // `!` frame parses to, so this keeps encode -> parse exact).
            Frame::Error(s) if s.iter().any(|&c| c == b'\r' || c == b'\n') => {
                header(out, b'!', s.len());
                out.extend_from_slice(s);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Error(s) => line(out, b'-', s),
            Frame::Integer(n) => {
                let mut b = itoa::Buffer::new();
                line(out, b':', b.format(*n).as_bytes());
            }
            Frame::Bulk(b) => {
                header(out, b'$', b.len());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Frame::NullBulk => out.extend_from_slice(b"$-1\r\n"),
            Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Frame::Null => out.extend_from_slice(b"_\r\n"),
            Frame::Array(items) => encode_all(out, b'*', items),
            Frame::Set(items) => encode_all(out, b'~', items),
            Frame::Push(items) => encode_all(out, b'>', items),
            Frame::Map(pairs) => encode_pairs(out, b'%', pairs),
            Frame::Double(s) => line(out, b',', s),
            Frame::Boolean(v) => out.extend_from_slice(if *v { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::BigNumber(s) => line(out, b'(', s),
            Frame::Verbatim { format, text } => {
                header(out, b'=', format.len() + 1 + text.len());
                out.extend_from_slice(format);
                out.push(b':');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Attribute { attrs, value } => {
                encode_pairs(out, b'|', attrs);
                value.encode(out);
            }
        }
    }

    /// The encoded bytes as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// The text of a simple string, bulk string or verbatim string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::Simple(b) | Frame::Bulk(b) => Some(b),
            Frame::Verbatim { text, .. } => Some(text),
            _ => None,
        }
    }

    /// A short name of the frame's type for test diagnostics.
    pub fn type_name(&self) -> &'static str {
        match self {
            Frame::Simple(_) => "simple",
            Frame::Error(_) => "error",
            Frame::Integer(_) => "integer",
            Frame::Bulk(_) => "bulk",
            Frame::NullBulk => "null-bulk",
            Frame::NullArray => "null-array",
            Frame::Null => "null",
            Frame::Array(_) => "array",
            Frame::Map(_) => "map",
            Frame::Set(_) => "set",
            Frame::Push(_) => "push",
            Frame::Double(_) => "double",
            Frame::Boolean(_) => "boolean",
            Frame::BigNumber(_) => "big-number",
            Frame::Verbatim { .. } => "verbatim",
            Frame::Attribute { .. } => "attribute",
        }
    }

    /// Encodes a command as a multibulk request.
    pub fn command(args: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
        header(&mut out, b'*', args.len());
        for a in args {
            header(&mut out, b'$', a.len());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

fn encode_all(out: &mut Vec<u8>, tag: u8, items: &[Frame]) {
    header(out, tag, items.len());
    for f in items {
        f.encode(out);
    }
}

fn encode_pairs(out: &mut Vec<u8>, tag: u8, pairs: &[(Frame, Frame)]) {
    header(out, tag, pairs.len());
    for (k, v) in pairs {
        k.encode(out);
        v.encode(out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn full(input: &[u8]) -> Frame {
        let (f, used) = parse(input).unwrap().unwrap();
        assert_eq!(used, input.len(), "{input:?}");
        // Every strict prefix is incomplete.
        for i in 0..input.len() {
            assert_eq!(parse(&input[..i]), Ok(None), "prefix {i} of {input:?}");
        }
        // Encoding gives the same bytes back.
        assert_eq!(f.to_vec(), input);
        f
    }

    #[test]
    fn scalars() {
        assert_eq!(full(b"+OK\r\n"), Frame::Simple(b("OK")));
        assert_eq!(full(b"+\r\n"), Frame::Simple(b("")));
        assert_eq!(full(b"-ERR bad\r\n"), Frame::Error(b("ERR bad")));
        assert_eq!(full(b":-42\r\n"), Frame::Integer(-42));
        assert_eq!(full(b":9223372036854775807\r\n"), Frame::Integer(i64::MAX));
        assert_eq!(full(b":-9223372036854775808\r\n"), Frame::Integer(i64::MIN));
        assert_eq!(full(b"$5\r\nhe\r\nl\r\n"), Frame::Bulk(b("he\r\nl")));
        assert_eq!(full(b"$0\r\n\r\n"), Frame::Bulk(b("")));
        assert_eq!(full(b"$-1\r\n"), Frame::NullBulk);
        assert_eq!(full(b"*-1\r\n"), Frame::NullArray);
        assert_eq!(full(b"_\r\n"), Frame::Null);
        assert_eq!(full(b",3.14\r\n"), Frame::Double(b("3.14")));
        assert_eq!(full(b",-inf\r\n"), Frame::Double(b("-inf")));
        assert_eq!(full(b"#t\r\n"), Frame::Boolean(true));
        assert_eq!(full(b"#f\r\n"), Frame::Boolean(false));
        assert_eq!(
            full(b"(3492890328409238509324850943850943825024385\r\n"),
            Frame::BigNumber(b("3492890328409238509324850943850943825024385"))
        );
        assert_eq!(
            full(b"=15\r\ntxt:Some string\r\n"),
            Frame::Verbatim {
                format: b("txt"),
                text: b("Some string")
            }
        );
        assert_eq!(
            full(b"=4\r\nmkd:\r\n"),
            Frame::Verbatim {
                format: b("mkd"),
                text: b("")
            }
        );
    }

    #[test]
    fn lenient_integer_signs() {
        assert_eq!(parse(b":+7\r\n"), Ok(Some((Frame::Integer(7), 5))));
        assert_eq!(parse(b":007\r\n"), Ok(Some((Frame::Integer(7), 6))));
    }

    #[test]
    fn blob_error() {
        assert_eq!(
            parse(b"!21\r\nSYNTAX invalid syntax\r\n"),
            Ok(Some((Frame::Error(b("SYNTAX invalid syntax")), 28)))
        );
        assert_eq!(full(b"!5\r\nE\r\nx!\r\n"), Frame::Error(b("E\r\nx!")));
    }

    #[test]
    fn aggregates() {
        assert_eq!(full(b"*0\r\n"), Frame::Array(vec![]));
        assert_eq!(full(b"%0\r\n"), Frame::Map(vec![]));
        assert_eq!(
            full(b"*3\r\n:1\r\n*2\r\n+a\r\n$-1\r\n_\r\n"),
            Frame::Array(vec![
                Frame::Integer(1),
                Frame::Array(vec![Frame::Simple(b("a")), Frame::NullBulk]),
                Frame::Null
            ])
        );
        assert_eq!(
            full(b"%2\r\n+first\r\n:1\r\n+second\r\n%1\r\n#t\r\n~1\r\n,1\r\n"),
            Frame::Map(vec![
                (Frame::Simple(b("first")), Frame::Integer(1)),
                (
                    Frame::Simple(b("second")),
                    Frame::Map(vec![(
                        Frame::Boolean(true),
                        Frame::Set(vec![Frame::Double(b("1"))])
                    )])
                ),
            ])
        );
        assert_eq!(
            full(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
            Frame::Push(vec![
                Frame::Bulk(b("message")),
                Frame::Bulk(b("ch")),
                Frame::Bulk(b("hi"))
            ])
        );
    }

    #[test]
    fn attributes() {
        let input =
            b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2039123\r\n|0\r\n:9\r\n";
        assert_eq!(
            full(input),
            Frame::Attribute {
                attrs: vec![(
                    Frame::Simple(b("key-popularity")),
                    Frame::Map(vec![(Frame::Bulk(b("a")), Frame::Double(b("0.19")))])
                )],
                value: Box::new(Frame::Array(vec![
                    Frame::Integer(2039123),
                    Frame::Attribute {
                        attrs: vec![],
                        value: Box::new(Frame::Integer(9))
                    }
                ])),
            }
        );
    }

    #[test]
    fn pipelined_frames() {
        let input = b"+OK\r\n:1\r\n*1\r\n$1\r\nx\r\n";
        let mut at = 0;
        let mut got = Vec::new();
        while let Some((f, used)) = parse(&input[at..]).unwrap() {
            got.push(f);
            at += used;
        }
        assert_eq!(at, input.len());
        assert_eq!(
            got,
            vec![
                Frame::Simple(b("OK")),
                Frame::Integer(1),
                Frame::Array(vec![Frame::Bulk(b("x"))])
            ]
        );
    }

    #[test]
    fn resumable_parser() {
        let input = b"*3\r\n$3\r\nabc\r\n%1\r\n+k\r\n*2\r\n:1\r\n:2\r\n+long line here\r\n";
        for step in 1..input.len() {
            let mut p = FrameParser::new();
            let mut end = 0;
            let result = loop {
                end = (end + step).min(input.len());
                if let Some(r) = p.parse(&input[..end]).unwrap() {
                    break r;
                }
                assert!(end < input.len());
            };
            assert_eq!(result, parse(input).unwrap().unwrap(), "step {step}");
        }
    }

    #[test]
    fn errors() {
        let cases: &[(&[u8], FrameError)] = &[
            (b"?x\r\n", FrameError::InvalidType(b'?')),
            (b"\r\n", FrameError::InvalidType(b'\r')),
            (b"*1\r\n@\r\n", FrameError::InvalidType(b'@')),
            (b":abc\r\n", FrameError::InvalidInteger),
            (b":\r\n", FrameError::InvalidInteger),
            (b":-\r\n", FrameError::InvalidInteger),
            (b":9223372036854775808\r\n", FrameError::InvalidInteger),
            (b"$-2\r\n", FrameError::InvalidLength),
            (b"$x\r\n", FrameError::InvalidLength),
            (b"$?\r\n", FrameError::InvalidLength),
            (b"*?\r\n", FrameError::InvalidLength),
            (b"%-1\r\n", FrameError::InvalidLength),
            (b"=-1\r\n", FrameError::InvalidLength),
            (b"$1\r\nab\r\n", FrameError::MissingCrlf),
            (b"+OK\rX", FrameError::MissingCrlf),
            (b"#x\r\n", FrameError::InvalidBoolean),
            (b"#\r\n", FrameError::InvalidBoolean),
            (b"_x\r\n", FrameError::InvalidNull),
            (b"=3\r\ntxt\r\n", FrameError::InvalidVerbatim),
            (b"=5\r\ntxtx1\r\n", FrameError::InvalidVerbatim),
        ];
        for (input, e) in cases {
            assert_eq!(parse(input), Err(e.clone()), "{input:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let mut ok = b"*1\r\n".repeat(MAX_DEPTH);
        ok.extend_from_slice(b":1\r\n");
        let (mut f, used) = parse(&ok).unwrap().unwrap();
        assert_eq!(used, ok.len());
        let mut depth = 0;
        while let Frame::Array(mut v) = f {
            depth += 1;
            f = v.pop().unwrap();
        }
        assert_eq!(depth, MAX_DEPTH);

        let mut deep = b"*1\r\n".repeat(MAX_DEPTH + 1);
        deep.extend_from_slice(b":1\r\n");
        assert_eq!(parse(&deep), Err(FrameError::TooDeep));
        let deep = b"|0\r\n".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&deep), Err(FrameError::TooDeep));
        // Way past the limit: still an error, not a stack overflow.
        assert_eq!(
            parse(&b"*1\r\n".repeat(1_000_000)),
            Err(FrameError::TooDeep)
        );
    }

    #[test]
    fn huge_claims_do_not_allocate() {
        let mut p = FrameParser::new();
        assert_eq!(p.parse(b"*9223372036854775807\r\n:1\r\n"), Ok(None));
        assert!(p.stack[0].items.capacity() <= MAX_PREALLOC);
        assert_eq!(parse(b"$9223372036854775807\r\n"), Ok(None));
        assert_eq!(parse(b"$9223372036854775807\r\nabc"), Ok(None));
    }

    #[test]
    fn helpers() {
        assert_eq!(
            Frame::command(&[b"SET", b"k", b""]),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n".to_vec()
        );
        assert_eq!(Frame::command(&[]), b"*0\r\n".to_vec());
        assert_eq!(Frame::Bulk(b("x")).as_bytes(), Some(&b"x"[..]));
        assert_eq!(Frame::Simple(b("y")).as_bytes(), Some(&b"y"[..]));
        assert_eq!(
            Frame::Verbatim {
                format: b("txt"),
                text: b("z")
            }
            .as_bytes(),
            Some(&b"z"[..])
        );
        assert_eq!(Frame::Integer(1).as_bytes(), None);
        assert_eq!(Frame::Null.type_name(), "null");
        assert_eq!(Frame::Map(vec![]).type_name(), "map");
    }
}
