//! Reply encoding for RESP2 and RESP3 clients.
//!
//! Handlers write replies directly into the connection's output buffer through
//! [`ReplyWriter`]; there is no intermediate reply tree on the hot path. Types that
//! only exist in RESP3 (maps, sets, doubles, booleans, nulls, pushes, verbatim strings)
//! are downgraded to their RESP2 equivalents exactly as Redis does.

/// Protocol version negotiated with `HELLO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// Writes replies into a byte buffer.
#[derive(Debug, Default)]
pub struct ReplyWriter {
    buf: Vec<u8>,
    proto: Protocol,
}

impl ReplyWriter {
    pub fn new(proto: Protocol) -> Self {
        Self {
            buf: Vec::with_capacity(16 * 1024),
            proto,
        }
    }

    pub fn protocol(&self) -> Protocol {
        self.proto
    }

    pub fn set_protocol(&mut self, proto: Protocol) {
        self.proto = proto;
    }

    pub fn is_resp3(&self) -> bool {
        self.proto == Protocol::Resp3
    }

    /// Bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Drops everything written after `len` (used to retract a partial reply).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// Gives the buffer to the caller, leaving an empty one behind.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Mutable access for the connection's writer (e.g. to drain what was sent).
    pub fn buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    fn header(&mut self, tag: u8, n: i64) {
        self.buf.push(tag);
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string. The caller guarantees it holds no CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.simple_bytes(s.as_bytes());
    }

    pub fn simple_bytes(&mut self, s: &[u8]) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply. `msg` is the whole message including its prefix
    /// (`ERR ...`, `WRONGTYPE ...`); CR and LF are replaced by spaces as Redis does.
    pub fn error(&mut self, msg: &str) {
        self.error_bytes(msg.as_bytes());
    }

    /// An error reply from raw bytes (for messages that echo client input verbatim).
    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.buf.push(b'-');
        for &c in msg {
            self.buf
                .push(if c == b'\r' || c == b'\n' { b' ' } else { c });
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }

    /// An integer sent as a bulk string (e.g. `INCRBYFLOAT`'s and `GETRANGE`'s peers).
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.buf.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.buf.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// A map of `len` pairs: `%` in RESP3, a flat array of `2*len` in RESP2.
    pub fn map(&mut self, len: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', 2 * len as i64),
            Protocol::Resp3 => self.header(b'%', len as i64),
        }
    }

    /// A set: `~` in RESP3, an array in RESP2.
    pub fn set(&mut self, len: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', len as i64),
            Protocol::Resp3 => self.header(b'~', len as i64),
        }
    }

    /// An out-of-band push (`>` in RESP3; an array in RESP2, as pub/sub messages are).
    pub fn push(&mut self, len: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', len as i64),
            Protocol::Resp3 => self.header(b'>', len as i64),
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, v: bool) {
        match (self.proto, v) {
            (Protocol::Resp3, true) => self.buf.extend_from_slice(b"#t\r\n"),
            (Protocol::Resp3, false) => self.buf.extend_from_slice(b"#f\r\n"),
            (Protocol::Resp2, true) => self.buf.extend_from_slice(b":1\r\n"),
            (Protocol::Resp2, false) => self.buf.extend_from_slice(b":0\r\n"),
        }
    }

    /// A double: `,` in RESP3, a bulk string in RESP2. Formatted as Redis formats
    /// doubles in replies (`%.17g`, with `inf`, `-inf` and `nan`).
    pub fn double(&mut self, v: f64) {
        let mut tmp = [0u8; 40];
        let n = format_double(v, &mut tmp);
        match self.proto {
            Protocol::Resp2 => self.bulk(&tmp[..n]),
            Protocol::Resp3 => {
                self.buf.push(b',');
                self.buf.extend_from_slice(&tmp[..n]);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A verbatim string (`=` with a 3-letter format in RESP3, a bulk string in RESP2).
    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.header(b'=', (text.len() + 4) as i64);
                self.buf.extend_from_slice(format.as_bytes());
                self.buf.push(b':');
                self.buf.extend_from_slice(text);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Appends bytes that are already RESP-encoded.
    pub fn raw(&mut self, encoded: &[u8]) {
        self.buf.extend_from_slice(encoded);
    }
}

/// Formats `v` the way Redis's `%.17g` does in replies; returns the length written.
/// `buf` must hold at least 32 bytes.
pub fn format_double(v: f64, buf: &mut [u8]) -> usize {
    use std::io::Write;
    if v.is_nan() {
        buf[..3].copy_from_slice(b"nan");
        return 3;
    }
    if v.is_infinite() {
        let s: &[u8] = if v > 0.0 { b"inf" } else { b"-inf" };
        buf[..s.len()].copy_from_slice(s);
        return s.len();
    }
    let s = format_g17(v);
    let mut cur = std::io::Cursor::new(buf);
    let _ = cur.write_all(s.as_bytes());
    cur.position() as usize
}

/// `printf("%.17g", v)` for a finite `v`.
pub fn format_g17(v: f64) -> String {
    format_g(v, 17)
}

/// `printf("%.<precision>g", v)` for a finite `v`.
pub fn format_g(v: f64, precision: usize) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let p = precision.max(1);
    // Scientific form with p significant digits decides the exponent, as C does.
    let sci = format!("{:.*e}", p - 1, v);
    let (mant, exp) = match sci.split_once('e') {
        Some(parts) => parts,
        None => return sci,
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let mant = trim_fraction(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", mant, sign, exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        trim_fraction(&format!("{:.*}", decimals, v)).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17_matches_c() {
        assert_eq!(format_g17(1.5), "1.5");
        assert_eq!(format_g17(10.0), "10");
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(1e20), "1e+20");
        assert_eq!(format_g17(1.0e-5), "1.0000000000000001e-05");
        assert_eq!(format_g17(123456789.0), "123456789");
        assert_eq!(format_g17(-2.5), "-2.5");
        assert_eq!(format_g(3.0, 17), "3");
    }

    #[test]
    fn resp2_downgrades() {
        let mut w = ReplyWriter::new(Protocol::Resp2);
        w.map(1);
        w.null();
        w.boolean(true);
        w.double(1.5);
        assert_eq!(w.as_bytes(), b"*2\r\n$-1\r\n:1\r\n$3\r\n1.5\r\n");
    }

    #[test]
    fn resp3_types() {
        let mut w = ReplyWriter::new(Protocol::Resp3);
        w.map(1);
        w.null();
        w.boolean(false);
        w.double(f64::INFINITY);
        w.verbatim("txt", b"hi");
        assert_eq!(w.as_bytes(), b"%1\r\n_\r\n#f\r\n,inf\r\n=6\r\ntxt:hi\r\n");
    }

    #[test]
    fn errors_have_no_newlines() {
        let mut w = ReplyWriter::new(Protocol::Resp2);
        w.error("ERR a\r\nb");
        assert_eq!(w.as_bytes(), b"-ERR a  b\r\n");
    }
}
