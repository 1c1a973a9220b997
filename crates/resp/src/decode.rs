//! The server-side, incremental request decoder.
//!
//! A connection accumulates bytes in its query buffer and calls
//! [`RequestDecoder::decode`] with the unconsumed part. A request that starts with `*`
//! is a multibulk command (`*<n>\r\n` followed by `n` times `$<len>\r\n<payload>\r\n`);
//! anything else is an inline command (one line, split like `sdssplitargs` does).
//!
//! The decoder is resumable: when a command is incomplete it remembers how far it got
//! (the position, the argument spans parsed so far, and how far it already searched for
//! a line terminator), so a command that arrives in many small pieces costs time linear
//! in its size. Arguments are not copied: multibulk arguments are spans of the caller's
//! buffer; only inline arguments that needed unquoting live in a scratch buffer.
//!
//! Errors carry Redis 7.0's wording; limits follow Redis's defaults (see [`Limits`]).

use memchr::{memchr, memchr2};
use thiserror::Error;

/// Limits applied while decoding requests (Redis defaults in [`Default`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `proto-max-bulk-len`: the largest bulk argument accepted (default 512 MiB).
    pub max_bulk_len: usize,
    /// The largest multibulk count accepted (default `i32::MAX`, as in Redis).
    pub max_multibulk_len: usize,
    /// `PROTO_INLINE_MAX_SIZE`: how many bytes may be buffered without finding the end of
    /// an inline request or of a multibulk count / bulk length line (default 64 KiB).
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            max_inline_len: 64 * 1024,
        }
    }
}

/// Largest multibulk count an unauthenticated client may send (Redis's fixed value).
pub const UNAUTH_MAX_MULTIBULK_LEN: i64 = 10;
/// Largest bulk length an unauthenticated client may send (Redis's fixed value).
pub const UNAUTH_MAX_BULK_LEN: i64 = 16384;

/// A malformed request. `Display` is the text after `Protocol error: `, worded as
/// Redis 7.0 words it; the connection replies with [`ProtocolError::reply_text`] and
/// then closes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("invalid bulk length")]
    InvalidBulkLength,
    /// The byte found where a `$` bulk header was expected.
    #[error("expected '$', got '{}'", char::from(*.0))]
    ExpectedDollar(u8),
    #[error("too big inline request")]
    TooBigInlineRequest,
    #[error("too big mbulk count string")]
    TooBigMultibulkCount,
    #[error("too big bulk count string")]
    TooBigBulkCount,
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
    #[error("unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    #[error("unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

impl ProtocolError {
    /// The whole error reply text, e.g. `ERR Protocol error: invalid bulk length`.
    pub fn reply_text(&self) -> String {
        format!("ERR Protocol error: {self}")
    }
}

/// The outcome of one [`RequestDecoder::decode`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// More bytes are needed. `need` is the total length of `buf` needed for the current
    /// command when known (while waiting for a bulk payload), so the caller can reserve
    /// and enforce its query buffer limit.
    Incomplete { need: Option<usize> },
    /// A whole command was decoded from the start of `buf`; it used `consumed` bytes.
    /// [`RequestDecoder::arg_count`] may be 0 (empty inline line, `*0`, `*-1`): the
    /// caller skips such commands silently, as Redis does.
    Command { consumed: usize },
}

/// Where the decoder is inside the current command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Nothing of the current command has been looked at yet.
    #[default]
    Start,
    /// Waiting for the `*<n>\r\n` line.
    Count,
    /// Reading arguments; `bulk` is the length of the current one once its header is read.
    Args {
        remaining: usize,
        bulk: Option<usize>,
    },
    /// Waiting for the `\n` that ends an inline request.
    Inline,
}

/// Marks a span that points into the scratch buffer rather than the caller's buffer.
/// Slices never exceed `isize::MAX` bytes, so the top bit of a real offset is always 0.
const SCRATCH: usize = 1 << (usize::BITS - 1);

/// Spans beyond these capacities are released when the next command starts, so one huge
/// command does not pin its bookkeeping for the connection's lifetime.
const KEEP_SPANS: usize = 64 * 1024;
const KEEP_SCRATCH: usize = 256 * 1024;
/// Never reserve more argument slots up front than this, whatever the count line claims.
const MAX_PREALLOC_ARGS: usize = 1024;

/// One argument: `len` bytes at `start` in the caller's buffer, or in the scratch buffer
/// when `start` has the [`SCRATCH`] bit.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    len: usize,
}

/// Incremental request decoder; one per connection. See the module docs.
#[derive(Debug, Default)]
pub struct RequestDecoder {
    limits: Limits,
    state: State,
    /// Offset in `buf` of the first byte not yet parsed.
    pos: usize,
    /// Offset from which to continue searching for a line terminator, so waiting for a
    /// long line never rescans bytes already searched.
    scan: usize,
    spans: Vec<Span>,
    scratch: Vec<u8>,
}

impl RequestDecoder {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Takes effect from the next header parsed (e.g. after `CONFIG SET proto-max-bulk-len`).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Forgets any partial state (e.g. after the caller dropped its buffer).
    pub fn reset(&mut self) {
        self.state = State::Start;
        self.pos = 0;
        self.scan = 0;
        self.spans.clear();
        self.scratch.clear();
    }

    /// Decodes one command from the start of `buf`, which begins at the first byte of a
    /// not-yet-consumed command. After `Incomplete`, call again with a longer `buf` that
    /// starts at the same byte; decoding resumes where it stopped. `authenticated ==
    /// false` applies Redis's pre-auth limits (count > 10, bulk length > 16384).
    ///
    /// After an error the decoder is reset; the connection is expected to close.
    pub fn decode(&mut self, buf: &[u8], authenticated: bool) -> Result<Decoded, ProtocolError> {
        if self.pos > buf.len() || self.scan > buf.len() {
            // The caller broke the contract (a shorter buffer than last time). Start over
            // rather than index out of bounds.
            self.reset();
        }
        let result = self.step(buf, authenticated);
        match result {
            Ok(Decoded::Incomplete { .. }) => {}
            Ok(Decoded::Command { .. }) => {
                // Keep the spans for arg(); the next call starts a new command.
                self.state = State::Start;
                self.pos = 0;
                self.scan = 0;
            }
            Err(_) => self.reset(),
        }
        result
    }

    fn step(&mut self, buf: &[u8], authenticated: bool) -> Result<Decoded, ProtocolError> {
        if self.state == State::Start {
            let Some(&first) = buf.first() else {
                return Ok(Decoded::Incomplete { need: None });
            };
            self.begin_command();
            if first == b'*' {
                self.state = State::Count;
                self.scan = 1;
            } else {
                self.state = State::Inline;
                self.scan = 0;
            }
        }
        match self.state {
            State::Inline => self.inline(buf),
            _ => self.multibulk(buf, authenticated),
        }
    }

    fn begin_command(&mut self) {
        self.pos = 0;
        self.spans.clear();
        self.scratch.clear();
        if self.spans.capacity() > KEEP_SPANS {
            self.spans.shrink_to(MAX_PREALLOC_ARGS);
        }
        if self.scratch.capacity() > KEEP_SCRATCH {
            self.scratch.shrink_to(1024);
        }
    }

    /// Finds the `\r` ending the header line that starts at `self.pos`. Returns `Ok(None)`
    /// if the line (including the byte after `\r`, which Redis skips unchecked) has not
    /// fully arrived; `too_big` if too much has been buffered without any `\r`.
    fn header_line(
        &mut self,
        buf: &[u8],
        too_big: ProtocolError,
    ) -> Result<Option<usize>, ProtocolError> {
        match memchr(b'\r', &buf[self.scan..]) {
            None => {
                if buf.len() - self.pos > self.limits.max_inline_len {
                    return Err(too_big);
                }
                self.scan = buf.len();
                Ok(None)
            }
            Some(off) => {
                let cr = self.scan + off;
                if cr + 1 >= buf.len() {
                    self.scan = cr;
                    return Ok(None);
                }
                Ok(Some(cr))
            }
        }
    }

    fn multibulk(&mut self, buf: &[u8], authenticated: bool) -> Result<Decoded, ProtocolError> {
        if self.state == State::Count {
            let Some(cr) = self.header_line(buf, ProtocolError::TooBigMultibulkCount)? else {
                return Ok(Decoded::Incomplete { need: None });
            };
            let n = match parse_ll(&buf[self.pos + 1..cr]) {
                Some(n)
                    if n <= i32::MAX as i64
                        && (n <= 0 || n as u64 <= self.limits.max_multibulk_len as u64) =>
                {
                    n
                }
                _ => return Err(ProtocolError::InvalidMultibulkLength),
            };
            if !authenticated && n > UNAUTH_MAX_MULTIBULK_LEN {
                return Err(ProtocolError::UnauthenticatedMultibulkLength);
            }
            self.pos = cr + 2;
            self.scan = self.pos;
            if n <= 0 {
                return Ok(Decoded::Command { consumed: self.pos });
            }
            let n = n as usize;
            self.spans.reserve(n.min(MAX_PREALLOC_ARGS));
            self.state = State::Args {
                remaining: n,
                bulk: None,
            };
        }

        let State::Args {
            mut remaining,
            mut bulk,
        } = self.state
        else {
            return Ok(Decoded::Incomplete { need: None });
        };
        let result = loop {
            if remaining == 0 {
                break Ok(Decoded::Command { consumed: self.pos });
            }
            let len = match bulk {
                Some(len) => len,
                None => {
                    let cr = match self.header_line(buf, ProtocolError::TooBigBulkCount) {
                        Ok(Some(cr)) => cr,
                        Ok(None) => break Ok(Decoded::Incomplete { need: None }),
                        Err(e) => break Err(e),
                    };
                    let first = buf[self.pos];
                    if first != b'$' {
                        break Err(ProtocolError::ExpectedDollar(first));
                    }
                    let len = match parse_ll(&buf[self.pos + 1..cr]) {
                        Some(n) if n >= 0 && n as u64 <= self.limits.max_bulk_len as u64 => n,
                        _ => break Err(ProtocolError::InvalidBulkLength),
                    };
                    if !authenticated && len > UNAUTH_MAX_BULK_LEN {
                        break Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    self.pos = cr + 2;
                    // Fits: it is no larger than max_bulk_len, a usize.
                    let len = len as usize;
                    bulk = Some(len);
                    len
                }
            };
            // The payload is followed by two bytes that Redis skips without checking.
            let end = self.pos.saturating_add(len).saturating_add(2);
            if buf.len() < end {
                break Ok(Decoded::Incomplete { need: Some(end) });
            }
            self.spans.push(Span {
                start: self.pos,
                len,
            });
            self.pos = end;
            self.scan = end;
            bulk = None;
            remaining -= 1;
        };
        self.state = State::Args { remaining, bulk };
        result
    }

    fn inline(&mut self, buf: &[u8]) -> Result<Decoded, ProtocolError> {
        // Redis finds the end of an inline line with strchr, which stops at a NUL: a
        // NUL before the newline means the line never ends (until it is too big). We
        // keep that behaviour so the same bytes get the same answer.
        let mut stuck_at_nul = false;
        let hit = match memchr2(b'\n', 0, &buf[self.scan..]) {
            Some(off) if buf[self.scan + off] == 0 => {
                // Stay on the NUL: later bytes can't end this line either.
                self.scan += off;
                stuck_at_nul = true;
                None
            }
            other => other,
        };
        let Some(off) = hit else {
            // Redis only complains once this much is buffered with no newline at all; a
            // longer line that arrives in one piece is accepted.
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            if !stuck_at_nul {
                self.scan = buf.len();
            }
            return Ok(Decoded::Incomplete { need: None });
        };
        let nl = self.scan + off;
        let end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        self.split_inline(&buf[..end])?;
        Ok(Decoded::Command { consumed: nl + 1 })
    }

    /// Splits an inline request line into arguments the way Redis's `sdssplitargs` does.
    /// Plain words become spans of `line` (which starts at offset 0 of the caller's
    /// buffer); words with quotes are unescaped into the scratch buffer.
    fn split_inline(&mut self, line: &[u8]) -> Result<(), ProtocolError> {
        let n = line.len();
        let mut p = 0;
        loop {
            while p < n && is_c_space(line[p]) {
                p += 1;
            }
            if p >= n {
                return Ok(());
            }
            let start = p;
            // Offset in scratch once the word needed unescaping.
            let mut copied: Option<usize> = None;
            while let Some(&c) = line.get(p) {
                match c {
                    // Inside a word only these end it (not \v or \f, unlike leading blanks).
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' | b'\'' => {
                        if copied.is_none() {
                            copied = Some(self.scratch.len());
                            self.scratch.extend_from_slice(&line[start..p]);
                        }
                        p = if c == b'"' {
                            self.double_quoted(line, p + 1)?
                        } else {
                            self.single_quoted(line, p + 1)?
                        };
                        // A closing quote ends the word (it must be followed by a blank).
                        break;
                    }
                    _ => {
                        if copied.is_some() {
                            self.scratch.push(c);
                        }
                        p += 1;
                    }
                }
            }
            let span = match copied {
                Some(at) => Span {
                    start: at | SCRATCH,
                    len: self.scratch.len() - at,
                },
                None => Span {
                    start,
                    len: p - start,
                },
            };
            self.spans.push(span);
        }
    }

    /// Unescapes a double-quoted string starting after the opening quote; returns the
    /// offset just past the closing quote.
    fn double_quoted(&mut self, line: &[u8], mut p: usize) -> Result<usize, ProtocolError> {
        loop {
            let Some(&c) = line.get(p) else {
                return Err(ProtocolError::UnbalancedQuotes);
            };
            match c {
                b'\\'
                    if line.get(p + 1) == Some(&b'x')
                        && line.get(p + 2).is_some_and(|b| b.is_ascii_hexdigit())
                        && line.get(p + 3).is_some_and(|b| b.is_ascii_hexdigit()) =>
                {
                    self.scratch.push(hex(line[p + 2]) << 4 | hex(line[p + 3]));
                    p += 4;
                }
                b'\\' if p + 1 < line.len() => {
                    let e = line[p + 1];
                    self.scratch.push(match e {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    p += 2;
                }
                b'"' => return closing_quote(line, p),
                _ => {
                    self.scratch.push(c);
                    p += 1;
                }
            }
        }
    }

    /// Like [`Self::double_quoted`] for single quotes, where only `\'` is an escape.
    fn single_quoted(&mut self, line: &[u8], mut p: usize) -> Result<usize, ProtocolError> {
        loop {
            let Some(&c) = line.get(p) else {
                return Err(ProtocolError::UnbalancedQuotes);
            };
            match c {
                b'\\' if line.get(p + 1) == Some(&b'\'') => {
                    self.scratch.push(b'\'');
                    p += 2;
                }
                b'\'' => return closing_quote(line, p),
                _ => {
                    self.scratch.push(c);
                    p += 1;
                }
            }
        }
    }

    /// Number of arguments of the command last returned as `Command`.
    pub fn arg_count(&self) -> usize {
        self.spans.len()
    }

    /// Argument `i` of the command last returned as `Command`. `buf` must be the slice
    /// passed to that `decode` call. Panics if `i >= arg_count()`.
    pub fn arg<'a>(&'a self, buf: &'a [u8], i: usize) -> &'a [u8] {
        self.resolve(buf, self.spans[i])
    }

    /// Pushes all arguments into `out` (cleared first).
    pub fn args<'a>(&'a self, buf: &'a [u8], out: &mut Vec<&'a [u8]>) {
        out.clear();
        out.extend(self.spans.iter().map(|&s| self.resolve(buf, s)));
    }

    /// The arguments as an iterator (no allocation; handy for collecting into a
    /// stack-allocated small vector, since a reused `Vec<&[u8]>` cannot outlive the
    /// borrow of the decoder across `decode` calls).
    pub fn iter_args<'a>(&'a self, buf: &'a [u8]) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        self.spans.iter().map(move |&s| self.resolve(buf, s))
    }

    /// Where argument `i` lies in `buf`, if it borrows the buffer (always for multibulk
    /// commands; for inline commands only words without quotes). Lets the caller slice a
    /// shared buffer (e.g. `Bytes`) instead of copying a large argument. Panics if
    /// `i >= arg_count()`.
    pub fn arg_range(&self, i: usize) -> Option<std::ops::Range<usize>> {
        let s = self.spans[i];
        (s.start & SCRATCH == 0).then(|| s.start..s.start + s.len)
    }

    #[inline]
    fn resolve<'a>(&'a self, buf: &'a [u8], s: Span) -> &'a [u8] {
        if s.start & SCRATCH != 0 {
            let at = s.start & !SCRATCH;
            &self.scratch[at..at + s.len]
        } else {
            &buf[s.start..s.start + s.len]
        }
    }
}

/// A closing quote at `p` must be followed by a blank or the end of the line.
fn closing_quote(line: &[u8], p: usize) -> Result<usize, ProtocolError> {
    match line.get(p + 1) {
        Some(&next) if !is_c_space(next) => Err(ProtocolError::UnbalancedQuotes),
        _ => Ok(p + 1),
    }
}

/// C's `isspace` in the "C" locale.
#[inline]
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

#[inline]
fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Parses a signed decimal integer with Redis's `string2ll` strictness: no sign other
/// than a leading `-`, no leading zeros, no `-0`, no blanks, at most 20 bytes.
pub fn parse_ll(s: &[u8]) -> Option<i64> {
    // LONG_STR_SIZE in Redis: a longer string is rejected before looking at it.
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    type Cmd = Vec<Vec<u8>>;

    /// Simulates a connection: appends each chunk to a query buffer and decodes every
    /// complete command, skipping empty ones as the server does.
    fn feed(
        dec: &mut RequestDecoder,
        chunks: &[&[u8]],
        auth: bool,
    ) -> (Vec<Cmd>, Option<ProtocolError>) {
        let mut qbuf: Vec<u8> = Vec::new();
        let mut cmds = Vec::new();
        for chunk in chunks {
            qbuf.extend_from_slice(chunk);
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

    fn one(input: &[u8]) -> (Vec<Cmd>, Option<ProtocolError>) {
        feed(&mut RequestDecoder::default(), &[input], true)
    }

    fn cmd(args: &[&str]) -> Cmd {
        args.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    fn err(input: &[u8]) -> ProtocolError {
        match one(input) {
            (_, Some(e)) => e,
            other => panic!("expected an error for {input:?}, got {other:?}"),
        }
    }

    fn err_unauth(input: &[u8]) -> Option<ProtocolError> {
        feed(&mut RequestDecoder::default(), &[input], false).1
    }

    #[test]
    fn multibulk_basic() {
        let (cmds, e) = one(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n");
        assert_eq!(e, None);
        assert_eq!(cmds, vec![cmd(&["SET", "k", "hello"])]);
    }

    #[test]
    fn binary_payloads_and_empty_args() {
        let (cmds, e) = one(b"*3\r\n$0\r\n\r\n$4\r\n\r\n\0\xff\r\n$1\r\n*\r\n");
        assert_eq!(e, None);
        assert_eq!(
            cmds,
            vec![vec![b"".to_vec(), b"\r\n\0\xff".to_vec(), b"*".to_vec()]]
        );
    }

    #[test]
    fn empty_commands() {
        for input in [
            &b"*0\r\n"[..],
            b"*-1\r\n",
            b"*-100\r\n",
            b"\r\n",
            b"\n",
            b"  \t \r\n",
        ] {
            let mut dec = RequestDecoder::default();
            assert_eq!(
                dec.decode(input, true),
                Ok(Decoded::Command {
                    consumed: input.len()
                }),
                "{input:?}"
            );
            assert_eq!(dec.arg_count(), 0);
        }
    }

    #[test]
    fn empty_buffer_is_incomplete() {
        let mut dec = RequestDecoder::default();
        assert_eq!(
            dec.decode(b"", true),
            Ok(Decoded::Incomplete { need: None })
        );
    }

    #[test]
    fn consumed_covers_exactly_one_command() {
        let mut dec = RequestDecoder::default();
        let buf = b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n";
        assert_eq!(dec.decode(buf, true), Ok(Decoded::Command { consumed: 14 }));
        assert_eq!(dec.arg(buf, 0), b"PING");
        let buf = b"PING\nECHO x\r\n";
        assert_eq!(dec.decode(buf, true), Ok(Decoded::Command { consumed: 5 }));
        assert_eq!(dec.arg(buf, 0), b"PING");
    }

    #[test]
    fn need_reports_payload_end() {
        let mut dec = RequestDecoder::default();
        let head = b"*2\r\n$3\r\nGET\r\n$100000\r\n";
        assert_eq!(
            dec.decode(head, true),
            Ok(Decoded::Incomplete {
                need: Some(head.len() + 100_002)
            })
        );
        let mut buf = head.to_vec();
        buf.resize(head.len() + 100_000, b'x');
        buf.extend_from_slice(b"\r\n");
        assert_eq!(
            dec.decode(&buf, true),
            Ok(Decoded::Command {
                consumed: buf.len()
            })
        );
        assert_eq!(dec.arg(&buf, 1).len(), 100_000);
    }

    #[test]
    fn header_waits_for_byte_after_cr() {
        let mut dec = RequestDecoder::default();
        assert_eq!(
            dec.decode(b"*1\r", true),
            Ok(Decoded::Incomplete { need: None })
        );
        assert_eq!(
            dec.decode(b"*1\r\n$1\r", true),
            Ok(Decoded::Incomplete { need: None })
        );
        assert_eq!(
            dec.decode(b"*1\r\n$1\r\n", true),
            Ok(Decoded::Incomplete { need: Some(11) })
        );
        assert_eq!(
            dec.decode(b"*1\r\n$1\r\na\r", true),
            Ok(Decoded::Incomplete { need: Some(11) })
        );
        assert_eq!(
            dec.decode(b"*1\r\n$1\r\na\r\n", true),
            Ok(Decoded::Command { consumed: 11 })
        );
    }

    #[test]
    fn bytes_after_cr_and_payload_are_skipped_unchecked() {
        // Redis skips the two bytes after a header's '\r' and after a payload.
        let (cmds, e) = one(b"*1\rX$2\r?abZZ");
        assert_eq!(e, None);
        assert_eq!(cmds, vec![cmd(&["ab"])]);
    }

    #[test]
    fn multibulk_length_errors() {
        for input in [
            &b"*abc\r\n"[..],
            b"*\r\n",
            b"*01\r\n",
            b"*+1\r\n",
            b"*-0\r\n",
            b"* 1\r\n",
            b"*1 \r\n",
            b"*2147483648\r\n",
            b"*99999999999999999999\r\n",
            b"*999999999999999999999999\r\n",
        ] {
            assert_eq!(
                err(input),
                ProtocolError::InvalidMultibulkLength,
                "{input:?}"
            );
        }
        let mut dec = RequestDecoder::default();
        assert_eq!(
            dec.decode(b"*2147483647\r\n", true),
            Ok(Decoded::Incomplete { need: None })
        );
        // A count line spread over several chunks.
        assert_eq!(
            feed(
                &mut RequestDecoder::default(),
                &[b"*", b"1", b"x", b"\r", b"\n"],
                true
            )
            .1,
            Some(ProtocolError::InvalidMultibulkLength)
        );
    }

    #[test]
    fn configured_multibulk_limit() {
        let mut dec = RequestDecoder::new(Limits {
            max_multibulk_len: 3,
            ..Limits::default()
        });
        assert_eq!(
            dec.decode(b"*4\r\n", true),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            dec.decode(b"*3\r\n", true),
            Ok(Decoded::Incomplete { need: None })
        );
    }

    #[test]
    fn bulk_length_errors() {
        for input in [
            &b"*1\r\n$abc\r\n"[..],
            b"*1\r\n$\r\n",
            b"*1\r\n$-1\r\n",
            b"*1\r\n$-5\r\n",
            b"*1\r\n$01\r\n",
            b"*1\r\n$536870913\r\n",
            b"*1\r\n$99999999999999999999\r\n",
        ] {
            assert_eq!(err(input), ProtocolError::InvalidBulkLength, "{input:?}");
        }
        let mut dec = RequestDecoder::default();
        assert_eq!(
            dec.decode(b"*1\r\n$536870912\r\n", true),
            Ok(Decoded::Incomplete {
                need: Some(16 + 536_870_912 + 2)
            })
        );
        let mut dec = RequestDecoder::new(Limits {
            max_bulk_len: 10,
            ..Limits::default()
        });
        assert_eq!(
            dec.decode(b"*1\r\n$11\r\n", true),
            Err(ProtocolError::InvalidBulkLength)
        );
    }

    #[test]
    fn expected_dollar() {
        assert_eq!(err(b"*1\r\nx\r\n"), ProtocolError::ExpectedDollar(b'x'));
        assert_eq!(
            err(b"*1\r\nx\r\n").reply_text(),
            "ERR Protocol error: expected '$', got 'x'"
        );
        assert_eq!(
            err(b"*2\r\n$1\r\na\r\n:1\r\n"),
            ProtocolError::ExpectedDollar(b':')
        );
        assert_eq!(err(b"*1\r\n\r\n"), ProtocolError::ExpectedDollar(b'\r'));
        // The check happens only once the whole header line is there.
        let mut dec = RequestDecoder::default();
        assert_eq!(
            dec.decode(b"*1\r\nx", true),
            Ok(Decoded::Incomplete { need: None })
        );
    }

    #[test]
    fn too_big_header_lines() {
        let mut big = b"*".to_vec();
        big.resize(64 * 1024 + 1, b'1');
        assert_eq!(
            feed(
                &mut RequestDecoder::default(),
                &[&big[..64 * 1024], &big[64 * 1024..]],
                true
            )
            .1,
            Some(ProtocolError::TooBigMultibulkCount)
        );
        // Exactly 64 KiB buffered is still fine.
        let mut dec = RequestDecoder::default();
        assert_eq!(
            dec.decode(&big[..64 * 1024], true),
            Ok(Decoded::Incomplete { need: None })
        );

        let mut big = b"*1\r\n$".to_vec();
        big.resize(4 + 64 * 1024 + 1, b'1');
        assert_eq!(err(&big), ProtocolError::TooBigBulkCount);
        // Wrong first byte but no CR yet: the size check wins, as in Redis.
        let mut big = b"*1\r\n".to_vec();
        big.resize(4 + 64 * 1024 + 1, b'x');
        assert_eq!(err(&big), ProtocolError::TooBigBulkCount);
        // A long line that does end is judged by its content instead.
        let mut long = b"*".to_vec();
        long.resize(70_000, b'1');
        long.extend_from_slice(b"\r\n");
        assert_eq!(err(&long), ProtocolError::InvalidMultibulkLength);
    }

    #[test]
    fn too_big_inline() {
        let mut big = vec![b'a'; 64 * 1024];
        let mut dec = RequestDecoder::default();
        assert_eq!(
            dec.decode(&big, true),
            Ok(Decoded::Incomplete { need: None })
        );
        big.push(b'a');
        assert_eq!(
            dec.decode(&big, true),
            Err(ProtocolError::TooBigInlineRequest)
        );
        assert_eq!(
            ProtocolError::TooBigInlineRequest.reply_text(),
            "ERR Protocol error: too big inline request"
        );
        // A longer line arriving in one piece is accepted, as in Redis.
        big.push(b'\n');
        let (cmds, e) = one(&big);
        assert_eq!(e, None);
        assert_eq!(cmds[0][0].len(), 64 * 1024 + 1);
    }

    #[test]
    fn unauthenticated_limits() {
        assert_eq!(
            err_unauth(b"*11\r\n"),
            Some(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(err_unauth(b"*10\r\n"), None);
        assert_eq!(
            err_unauth(b"*1\r\n$16385\r\n"),
            Some(ProtocolError::UnauthenticatedBulkLength)
        );
        assert_eq!(err_unauth(b"*1\r\n$16384\r\n"), None);
        // Invalid beats unauthenticated.
        assert_eq!(
            err_unauth(b"*2147483648\r\n"),
            Some(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            err_unauth(b"*1\r\n$-2\r\n"),
            Some(ProtocolError::InvalidBulkLength)
        );
        // Inline requests are not subject to these limits.
        let line = format!("{}\r\n", vec!["a"; 20].join(" "));
        let (cmds, e) = feed(&mut RequestDecoder::default(), &[line.as_bytes()], false);
        assert_eq!(e, None);
        assert_eq!(cmds[0].len(), 20);
    }

    #[test]
    fn error_texts() {
        let cases = [
            (
                ProtocolError::InvalidMultibulkLength,
                "invalid multibulk length",
            ),
            (ProtocolError::InvalidBulkLength, "invalid bulk length"),
            (ProtocolError::ExpectedDollar(b'x'), "expected '$', got 'x'"),
            (ProtocolError::TooBigInlineRequest, "too big inline request"),
            (
                ProtocolError::TooBigMultibulkCount,
                "too big mbulk count string",
            ),
            (ProtocolError::TooBigBulkCount, "too big bulk count string"),
            (
                ProtocolError::UnbalancedQuotes,
                "unbalanced quotes in request",
            ),
            (
                ProtocolError::UnauthenticatedMultibulkLength,
                "unauthenticated multibulk length",
            ),
            (
                ProtocolError::UnauthenticatedBulkLength,
                "unauthenticated bulk length",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
            assert_eq!(e.reply_text(), format!("ERR Protocol error: {text}"));
        }
    }

    fn inline(line: &[u8]) -> Result<Vec<Vec<u8>>, ProtocolError> {
        let mut buf = line.to_vec();
        buf.push(b'\n');
        let mut dec = RequestDecoder::default();
        match dec.decode(&buf, true)? {
            Decoded::Command { consumed } => {
                assert_eq!(consumed, buf.len());
                let mut out = Vec::new();
                dec.args(&buf, &mut out);
                Ok(out.iter().map(|a| a.to_vec()).collect())
            }
            other => panic!("{other:?}"),
        }
    }

    fn words(ws: &[&[u8]]) -> Vec<Vec<u8>> {
        ws.iter().map(|w| w.to_vec()).collect()
    }

    #[test]
    fn inline_nul_never_ends_the_line() {
        // As Redis (strchr stops at NUL): the newline after a NUL is never seen.
        let mut dec = RequestDecoder::default();
        let buf = b"a\0b\n";
        assert_eq!(
            dec.decode(buf, true),
            Ok(Decoded::Incomplete { need: None })
        );
        let mut more = buf.to_vec();
        more.extend_from_slice(b"PING\n");
        assert_eq!(
            dec.decode(&more, true),
            Ok(Decoded::Incomplete { need: None })
        );
        let big = vec![0u8; 70 * 1024];
        let mut dec = RequestDecoder::default();
        assert_eq!(
            dec.decode(&big, true),
            Err(ProtocolError::TooBigInlineRequest)
        );
    }

    #[test]
    fn inline_splitting() {
        let ok: &[(&[u8], &[&[u8]])] = &[
            (b"PING", &[b"PING"]),
            (b"  set  a   b  ", &[b"set", b"a", b"b"]),
            (b"a\tb\rc", &[b"a", b"b", b"c"]),
            (b"\x0b\x0ca", &[b"a"]),
            (b"a\x0bb", &[b"a\x0bb"]),
            (b"set \"a b\" 'c d'", &[b"set", b"a b", b"c d"]),
            (b"\"\"", &[b""]),
            (b"''", &[b""]),
            (b"\"\" x", &[b"", b"x"]),
            (b"\"\\x41\\x4a\\x4A\"", &[b"AJJ"]),
            (b"\"\\x4\"", &[b"x4"]),
            (b"\"\\xZZ\"", &[b"xZZ"]),
            (b"\"\\n\\r\\t\\b\\a\\\\\\\"\\q\"", &[b"\n\r\t\x08\x07\\\"q"]),
            (b"'a\\'b'", &[b"a'b"]),
            (b"'a\\nb\\\\ c'", &[b"a\\nb\\\\ c"]),
            (b"'a\"b'", &[b"a\"b"]),
            (b"\"a'b\"", &[b"a'b"]),
            (b"foo\"bar baz\"", &[b"foobar baz"]),
            (b"foo'bar' x", &[b"foobar", b"x"]),
            (b"\"a\"\tb", &[b"a", b"b"]),
            (b"\"a\"\x0bb", &[b"a", b"b"]),
            (b"\"a\"", &[b"a"]),
            (b"a \xff", &[b"a", b"\xff"]),
            (b"\"a\rb\"", &[b"a\rb"]),
            (b"\"\\x00\"", &[b"\0"]),
        ];
        for (line, expect) in ok {
            assert_eq!(
                inline(line),
                Ok(words(expect)),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        for line in [
            &b"\"abc"[..],
            b"'abc",
            b"\"a\"b",
            b"'a'b",
            b"x \"a\"\"b\"",
            b"\"abc\\\"",
            b"'abc\\'",
            b"\"abc\\",
            b"\"",
            b"'",
        ] {
            assert_eq!(
                inline(line),
                Err(ProtocolError::UnbalancedQuotes),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn inline_line_endings() {
        let (cmds, e) = one(b"PING\nECHO a\r\n\r\n\nSET k v\n");
        assert_eq!(e, None);
        assert_eq!(
            cmds,
            vec![cmd(&["PING"]), cmd(&["ECHO", "a"]), cmd(&["SET", "k", "v"])]
        );
        // Only the CR right before LF is stripped; others separate words.
        let (cmds, _) = one(b"a\r\r\n");
        assert_eq!(cmds, vec![cmd(&["a"])]);
        // A line ending in a quote followed by CRLF.
        let (cmds, _) = one(b"ECHO \"x y\"\r\n");
        assert_eq!(cmds, vec![cmd(&["ECHO", "x y"])]);
    }

    #[test]
    fn arg_ranges_and_iter() {
        let buf = b"*2\r\n$3\r\nGET\r\n$2\r\nab\r\n";
        let mut dec = RequestDecoder::default();
        dec.decode(buf, true).unwrap();
        assert_eq!(dec.arg_range(0), Some(8..11));
        assert_eq!(dec.arg_range(1), Some(17..19));
        assert_eq!(
            dec.iter_args(buf).collect::<Vec<_>>(),
            vec![&b"GET"[..], b"ab"]
        );
        let buf = b"GET \"a\" b\n";
        dec.decode(buf, true).unwrap();
        assert_eq!(dec.arg_range(0), Some(0..3));
        assert_eq!(dec.arg_range(1), None);
        assert_eq!(dec.arg_range(2), Some(8..9));
        assert_eq!(dec.iter_args(buf).len(), 3);
    }

    #[test]
    fn inline_args_borrow_buffer_when_plain() {
        let buf = b"GET key\r\n";
        let mut dec = RequestDecoder::default();
        dec.decode(buf, true).unwrap();
        assert!(std::ptr::eq(dec.arg(buf, 1).as_ptr(), buf[4..].as_ptr()));
    }

    fn pipeline() -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n");
        p.extend_from_slice(b"PING\r\n");
        p.extend_from_slice(b"*0\r\n");
        p.extend_from_slice(b"\r\n");
        p.extend_from_slice(b"set \"a b\" 'c\\'d' e\n");
        p.extend_from_slice(b"*-1\r\n");
        p.extend_from_slice(b"*1\r\n$0\r\n\r\n");
        p.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$12\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n");
        p.extend_from_slice(b"\n");
        p.extend_from_slice(b"GET x\n");
        p
    }

    fn pipeline_expected() -> Vec<Cmd> {
        vec![
            cmd(&["SET", "key", "va\r\nl"]),
            cmd(&["PING"]),
            cmd(&["set", "a b", "c'd", "e"]),
            cmd(&[""]),
            cmd(&["ECHO", "\r\n\r\n\r\n\r\n\r\n\r\n"]),
            cmd(&["GET", "x"]),
        ]
    }

    #[test]
    fn pipeline_whole() {
        assert_eq!(one(&pipeline()), (pipeline_expected(), None));
    }

    #[test]
    fn pipeline_split_at_every_position() {
        let p = pipeline();
        for i in 0..=p.len() {
            let (a, b) = p.split_at(i);
            let mut dec = RequestDecoder::default();
            assert_eq!(
                feed(&mut dec, &[a, b], true),
                (pipeline_expected(), None),
                "split at {i}"
            );
        }
        for i in 0..=p.len() {
            for j in i..=p.len() {
                let mut dec = RequestDecoder::default();
                let got = feed(&mut dec, &[&p[..i], &p[i..j], &p[j..]], true);
                assert_eq!(got, (pipeline_expected(), None), "split at {i}, {j}");
            }
        }
    }

    #[test]
    fn pipeline_byte_by_byte() {
        let p = pipeline();
        let chunks: Vec<&[u8]> = p.chunks(1).collect();
        assert_eq!(
            feed(&mut RequestDecoder::default(), &chunks, true),
            (pipeline_expected(), None)
        );
    }

    #[test]
    fn errors_survive_any_split() {
        let input = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$x\r\n";
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            let got = feed(&mut RequestDecoder::default(), &[a, b], true);
            assert_eq!(
                got,
                (
                    vec![cmd(&["GET", "k"])],
                    Some(ProtocolError::InvalidBulkLength)
                )
            );
        }
    }

    #[test]
    fn many_args_in_small_pieces() {
        let n = 200_000;
        let mut buf = format!("*{n}\r\n").into_bytes();
        for i in 0..n {
            let s = (i % 1000).to_string();
            buf.extend_from_slice(format!("${}\r\n{s}\r\n", s.len()).as_bytes());
        }
        let mut dec = RequestDecoder::default();
        let mut end = 0;
        let result = loop {
            end = (end + 7).min(buf.len());
            match dec.decode(&buf[..end], true).unwrap() {
                Decoded::Incomplete { .. } => assert!(end < buf.len()),
                Decoded::Command { consumed } => break consumed,
            }
        };
        assert_eq!(result, buf.len());
        assert_eq!(dec.arg_count(), n);
        assert_eq!(dec.arg(&buf, 123_456), b"456");
    }

    #[test]
    fn long_inline_line_in_small_pieces() {
        // Resuming the newline search keeps this linear.
        let mut line = vec![b'a'; 60_000];
        line.push(b'\n');
        let mut dec = RequestDecoder::default();
        for end in 1..line.len() {
            assert_eq!(
                dec.decode(&line[..end], true),
                Ok(Decoded::Incomplete { need: None })
            );
        }
        assert_eq!(
            dec.decode(&line, true),
            Ok(Decoded::Command {
                consumed: line.len()
            })
        );
    }

    #[test]
    fn huge_claimed_count_does_not_preallocate() {
        let mut dec = RequestDecoder::default();
        assert_eq!(
            dec.decode(b"*2147483647\r\n$1\r\na\r\n", true),
            Ok(Decoded::Incomplete { need: None })
        );
        assert!(dec.spans.capacity() <= MAX_PREALLOC_ARGS);
    }

    #[test]
    fn reset_and_contract_violations() {
        let mut dec = RequestDecoder::default();
        assert!(matches!(
            dec.decode(b"*2\r\n$3\r\nGET\r\n$1", true),
            Ok(Decoded::Incomplete { .. })
        ));
        dec.reset();
        assert_eq!(
            dec.decode(b"PING\r\n", true),
            Ok(Decoded::Command { consumed: 6 })
        );
        // A shorter buffer than promised restarts instead of panicking.
        assert!(matches!(
            dec.decode(b"*2\r\n$3\r\nGET\r\n$1", true),
            Ok(Decoded::Incomplete { .. })
        ));
        assert_eq!(
            dec.decode(b"PING\r\n", true),
            Ok(Decoded::Command { consumed: 6 })
        );
        // After an error the decoder starts fresh.
        assert!(dec.decode(b"*x\r\n", true).is_err());
        assert_eq!(
            dec.decode(b"*1\r\n$1\r\na\r\n", true),
            Ok(Decoded::Command { consumed: 11 })
        );
    }

    #[test]
    fn parse_ll_matches_string2ll() {
        let ok: &[(&[u8], i64)] = &[
            (b"0", 0),
            (b"1", 1),
            (b"-1", -1),
            (b"9223372036854775807", i64::MAX),
            (b"-9223372036854775808", i64::MIN),
            (b"1234", 1234),
        ];
        for (s, v) in ok {
            assert_eq!(parse_ll(s), Some(*v), "{s:?}");
        }
        for s in [
            &b""[..],
            b"-",
            b"+1",
            b"-0",
            b"00",
            b"01",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"000000000000000000001",
        ] {
            assert_eq!(parse_ll(s), None, "{s:?}");
        }
    }
}
