//! A tiny blocking RESP client that shows exactly what a server sent: every frame
//! type, a closed connection and silence (a read timeout) are distinct outcomes.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use resp::frame::{FrameParser, MAX_DEPTH};
use resp::Frame;

/// How long a read waits for a reply unless the test says otherwise.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What one attempt to read a reply produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Frame(Frame),
    /// The server closed the connection (EOF or reset) before a whole frame arrived.
    Closed,
    /// No whole frame within the read timeout.
    Timeout,
    /// The bytes were not RESP; the text says why and shows the start of them.
    Malformed(String),
}

impl Reply {
    pub fn frame(&self) -> Option<&Frame> {
        match self {
            Reply::Frame(f) => Some(f),
            _ => None,
        }
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Frame(fr) => f.write_str(&crate::show(fr)),
            Reply::Closed => f.write_str("<connection closed>"),
            Reply::Timeout => f.write_str("<no reply: timeout>"),
            Reply::Malformed(why) => write!(f, "<malformed reply: {why}>"),
        }
    }
}

/// A connection that sends commands as multibulk requests (or any raw bytes) and reads
/// one [`Frame`] at a time.
pub struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Offset in `buf` of the first byte not yet consumed by a frame.
    start: usize,
    parser: FrameParser,
    timeout: Duration,
    /// Set after EOF or a reset: every later read reports `Closed` at once.
    closed: bool,
}

impl RawClient {
    /// Connects with [`DEFAULT_READ_TIMEOUT`].
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        let mut c = RawClient {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            start: 0,
            parser: FrameParser::new(),
            timeout: DEFAULT_READ_TIMEOUT,
            closed: false,
        };
        c.set_read_timeout(DEFAULT_READ_TIMEOUT);
        Ok(c)
    }

    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub fn read_timeout(&self) -> Duration {
        self.timeout
    }

    /// The underlying socket, e.g. to clone it for a writer thread.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Sends one command as a multibulk request.
    pub fn send(&mut self, args: &[&[u8]]) -> io::Result<()> {
        self.stream.write_all(&Frame::command(args))
    }

    /// Sends bytes exactly as given (inline commands, malformed input, pipelines).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Half-closes the connection: the server sees EOF after what was sent.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }

    /// Reads one reply, waiting at most the read timeout for it to complete.
    pub fn read_reply(&mut self) -> Reply {
        let deadline = Instant::now() + self.timeout;
        loop {
            if self.start < self.buf.len() {
                match self.parser.parse(&self.buf[self.start..]) {
                    Ok(Some((frame, used))) => {
                        self.start += used;
                        if self.start == self.buf.len() {
                            self.buf.clear();
                            self.start = 0;
                        }
                        return Reply::Frame(frame);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let shown = String::from_utf8_lossy(
                            &self.buf[self.start..self.buf.len().min(self.start + 80)],
                        )
                        .into_owned();
                        self.buf.clear();
                        self.start = 0;
                        return Reply::Malformed(format!(
                            "{e} in {shown:?} (max depth {MAX_DEPTH})"
                        ));
                    }
                }
            }
            if self.closed {
                return Reply::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Reply::Timeout;
            }
            if self.start > 0 && self.start * 2 > self.buf.len() {
                // Compact: the parser resumes at the same logical byte, which moves.
                self.buf.drain(..self.start);
                self.start = 0;
                self.parser.reset();
            }
            // A zero timeout would mean "block forever"; keep at least 1 ms.
            let wait = (deadline - now).max(Duration::from_millis(1));
            if self.stream.set_read_timeout(Some(wait)).is_err() {
                self.closed = true;
                continue;
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.closed = true,
            }
        }
    }

    /// Reads one frame; a closed connection, a timeout or garbage is an error.
    pub fn read_frame(&mut self) -> anyhow::Result<Frame> {
        match self.read_reply() {
            Reply::Frame(f) => Ok(f),
            other => anyhow::bail!("expected a reply frame, got {other}"),
        }
    }

    /// Sends a command and reads its reply.
    pub fn request(&mut self, args: &[&[u8]]) -> Reply {
        if self.send(args).is_err() {
            self.closed = true;
        }
        self.read_reply()
    }

    /// Sends a command given as text arguments and returns its reply frame; panics
    /// (failing the test) if there is none.
    pub fn call(&mut self, args: &[&str]) -> Frame {
        let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        match self.request(&bytes) {
            Reply::Frame(f) => f,
            other => panic!("{args:?}: expected a reply, got {other}"),
        }
    }

    /// Waits up to `within` for the server to close the connection, discarding any
    /// frames it sends first. Returns whether it closed.
    pub fn wait_closed(&mut self, within: Duration) -> bool {
        let saved = self.timeout;
        self.timeout = within;
        let deadline = Instant::now() + within;
        let closed = loop {
            match self.read_reply() {
                Reply::Closed => break true,
                Reply::Timeout => break false,
                Reply::Frame(_) | Reply::Malformed(_) => {
                    if Instant::now() >= deadline {
                        break false;
                    }
                }
            }
        };
        self.timeout = saved;
        closed
    }
}

/// `Frame::Simple` from text, for assertions.
pub fn simple(s: &str) -> Frame {
    Frame::Simple(bytes::Bytes::copy_from_slice(s.as_bytes()))
}

/// `Frame::Bulk` from text, for assertions.
pub fn bulk(s: &str) -> Frame {
    Frame::Bulk(bytes::Bytes::copy_from_slice(s.as_bytes()))
}

/// `Frame::Error` from text, for assertions.
pub fn error(s: &str) -> Frame {
    Frame::Error(bytes::Bytes::copy_from_slice(s.as_bytes()))
}
