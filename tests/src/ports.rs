//! Free loopback ports for servers the tests spawn.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// A TCP port on 127.0.0.1 that was free a moment ago. Another process can take it
/// before the caller binds it; [`crate::RedisServer`] retries with a new port when
/// that happens.
pub fn free_port() -> u16 {
    let l = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .expect("binding 127.0.0.1:0 to find a free port");
    l.local_addr()
        .expect("local_addr of a bound listener")
        .port()
}
