//! The Redis serialization protocol (RESP2 and RESP3).
//!
//! * [`decode`] — the server-side, incremental request decoder (multibulk and inline
//!   commands) with Redis's limits. It never panics and never allocates more than the
//!   limits allow.
//! * [`encode`] — [`ReplyWriter`], which writes replies for a RESP2 or RESP3 client
//!   straight into an output buffer.
//! * [`frame`] — a full RESP2/RESP3 frame parser for the client side (tests, the CLI,
//!   script call capture, proxies).
//!
//! This crate knows nothing about storage or sockets.

pub mod decode;
pub mod encode;
pub mod frame;

pub use decode::{Decoded, Limits, ProtocolError, RequestDecoder};
pub use encode::{Protocol, ReplyWriter};
pub use frame::Frame;
