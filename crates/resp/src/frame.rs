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
//! sends them. A blob error (`!`) is parsed as [`Frame::Error`].

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
    /// Appends the exact RESP bytes for this frame. Simple strings, errors, doubles and
    /// big numbers are written as they are (the caller keeps CR and LF out of them); a
    /// verbatim `format` should be three bytes long to parse back identically.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Simple(s) => line(out, b'+', s),
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
