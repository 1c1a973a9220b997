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

use memchr::memchr;
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
    Args { remaining: usize, bulk: Option<usize> },
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
                Some(n) if n <= i32::MAX as i64 && n as u64 <= self.limits.max_multibulk_len as u64 => n,
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
        let Some(off) = memchr(b'\n', &buf[self.scan..]) else {
            // Redis only complains once this much is buffered with no newline at all; a
            // longer line that arrives in one piece is accepted.
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            self.scan = buf.len();
            return Ok(Decoded::Incomplete { need: None });
        };
        let nl = self.scan + off;
        let end = if nl > 0 && buf[nl - 1] == b'\r' { nl - 1 } else { nl };
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
            loop {
                let Some(&c) = line.get(p) else { break };
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
                b'\\' if line.get(p + 1) == Some(&b'x')
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
