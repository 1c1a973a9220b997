//! The port pool: tenant databases get ports from a range (6000–6999 by default).
//! A released port rests in quarantine for a while before it is handed out again, so a
//! client still pointed at the old database cannot land on a new tenant's data. A port
//! some other program holds is skipped and reported, never fatal.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::{Duration, SystemTime};

use crate::NodeError;

/// A range of ports and who holds what.
#[derive(Debug)]
pub struct PortPool {
    start: u16,
    end: u16,
    quarantine: Duration,
    /// Ports held by a database (in the range or not).
    used: BTreeSet<u16>,
    /// Released ports and when they may be given out again.
    resting: BTreeMap<u16, SystemTime>,
    /// Ports found taken by another program at the last attempt, with the error.
    skipped: BTreeMap<u16, String>,
}

/// What the pool can still give.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PortCapacity {
    pub range_start: u16,
    pub range_end: u16,
    pub total: usize,
    pub used: usize,
    pub quarantined: usize,
    /// Ports neither used nor quarantined (some may still turn out to be taken by
    /// another program; those are listed in `skipped`).
    pub free: usize,
    pub skipped: Vec<u16>,
}

impl PortPool {
    pub fn new(start: u16, end: u16, quarantine: Duration) -> Result<Self, NodeError> {
        if start == 0 || end < start {
            return Err(NodeError::Invalid(format!(
                "invalid port range {start}-{end}: it must be non-empty and start above 0"
            )));
        }
        Ok(PortPool {
            start,
            end,
            quarantine,
            used: BTreeSet::new(),
            resting: BTreeMap::new(),
            skipped: BTreeMap::new(),
        })
    }

    pub fn in_range(&self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }

    fn release_expired(&mut self, now: SystemTime) {
        self.resting.retain(|_, until| *until > now);
    }

    /// Binds the first port of the range that is neither used, resting, nor taken by
    /// another program, and marks it used. `host` is the address to listen on.
    pub fn allocate(&mut self, host: IpAddr) -> Result<(u16, TcpListener), NodeError> {
        self.release_expired(SystemTime::now());
        for port in self.start..=self.end {
            if self.used.contains(&port) || self.resting.contains_key(&port) {
                continue;
            }
            match TcpListener::bind(SocketAddr::new(host, port)) {
                Ok(l) => {
                    self.skipped.remove(&port);
                    self.used.insert(port);
                    return Ok((port, l));
                }
                Err(e) => {
                    tracing::warn!("port {port} skipped: taken by another program ({e})");
                    self.skipped.insert(port, e.to_string());
                }
            }
        }
        Err(NodeError::PortsExhausted {
            start: self.start,
            end: self.end,
            quarantined: self.resting.len(),
            skipped: self.skipped.len(),
        })
    }

    /// Binds a port asked for by name. Inside the range it must be free and out of
    /// quarantine; outside the range any port the host lets us bind will do.
    pub fn claim(&mut self, host: IpAddr, port: u16) -> Result<TcpListener, NodeError> {
        self.release_expired(SystemTime::now());
        if port == 0 {
            return Err(NodeError::Invalid("port 0 cannot be requested".into()));
        }
        if self.used.contains(&port) {
            return Err(NodeError::PortInUse(
                port,
                "held by another database".into(),
            ));
        }
        if let Some(until) = self.resting.get(&port) {
            let left = until
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .as_secs()
                + 1;
            return Err(NodeError::PortInUse(
                port,
                format!("released recently, in quarantine for {left} more s"),
            ));
        }
        let l = self.bind_held(host, port)?;
        self.used.insert(port);
        Ok(l)
    }

    /// Binds a port this pool already counts as used (a database starting again on
    /// the port it keeps).
    pub fn bind_held(&mut self, host: IpAddr, port: u16) -> Result<TcpListener, NodeError> {
        match TcpListener::bind(SocketAddr::new(host, port)) {
            Ok(l) => {
                self.skipped.remove(&port);
                Ok(l)
            }
            Err(e) => {
                if self.in_range(port) {
                    self.skipped.insert(port, e.to_string());
                }
                Err(NodeError::PortInUse(port, e.to_string()))
            }
        }
    }

    /// Marks `port` used without binding it (restoring the manifest at start).
    pub fn mark_used(&mut self, port: u16) {
        self.resting.remove(&port);
        self.used.insert(port);
    }

    /// Gives `port` back; it rests in quarantine before it is handed out again.
    pub fn release(&mut self, port: u16) {
        if self.used.remove(&port) && self.in_range(port) && !self.quarantine.is_zero() {
            self.resting
                .insert(port, SystemTime::now() + self.quarantine);
        }
    }

    /// Gives back a port that was never handed out (a create that failed half-way).
    pub fn release_now(&mut self, port: u16) {
        self.used.remove(&port);
    }

    /// Puts `port` in quarantine until `until` (restoring the manifest at start).
    pub fn rest_until(&mut self, port: u16, until: SystemTime) {
        if !self.used.contains(&port) && until > SystemTime::now() {
            self.resting.insert(port, until);
        }
    }

    /// Ports in quarantine and until when.
    pub fn resting(&self) -> Vec<(u16, SystemTime)> {
        self.resting.iter().map(|(p, t)| (*p, *t)).collect()
    }

    pub fn capacity(&mut self) -> PortCapacity {
        self.release_expired(SystemTime::now());
        let total = (self.end - self.start) as usize + 1;
        let used = self.used.iter().filter(|p| self.in_range(**p)).count();
        let quarantined = self.resting.len();
        PortCapacity {
            range_start: self.start,
            range_end: self.end,
            total,
            used,
            quarantined,
            free: total - used - quarantined,
            skipped: self.skipped.keys().copied().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::free_range;
    use std::net::Ipv4Addr;

    const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn exhaustion_is_an_error_and_quarantine_delays_reuse() {
        let (a, b) = free_range(3);
        let mut pool = PortPool::new(a, b, Duration::from_millis(300)).expect("pool");
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(pool.allocate(LO).expect("port"));
        }
        let ports: Vec<u16> = held.iter().map(|(p, _)| *p).collect();
        assert_eq!(ports, vec![a, a + 1, a + 2]);
        let err = pool.allocate(LO).expect_err("exhausted");
        assert!(matches!(err, NodeError::PortsExhausted { .. }), "{err}");
        assert!(err.to_string().contains("no free port"), "{err}");
        // Release the middle one: quarantined, so still exhausted.
        let (p, l) = held.remove(1);
        drop(l);
        pool.release(p);
        assert_eq!(pool.capacity().quarantined, 1);
        assert!(pool.allocate(LO).is_err());
        assert!(matches!(pool.claim(LO, p), Err(NodeError::PortInUse(..))));
        std::thread::sleep(Duration::from_millis(350));
        let (again, _l) = pool.allocate(LO).expect("reused after quarantine");
        assert_eq!(again, p);
    }

    #[test]
    fn a_port_taken_by_another_program_is_skipped_and_reported() {
        let (a, b) = free_range(2);
        let squatter = TcpListener::bind((LO, a)).expect("squat");
        let mut pool = PortPool::new(a, b, Duration::ZERO).expect("pool");
        let (p, _l) = pool.allocate(LO).expect("port");
        assert_eq!(p, b);
        assert_eq!(pool.capacity().skipped, vec![a]);
        assert!(matches!(pool.claim(LO, a), Err(NodeError::PortInUse(..))));
        drop(squatter);
        let _l2 = pool.claim(LO, a).expect("free now");
        assert!(pool.capacity().skipped.is_empty());
        assert_eq!(pool.capacity().free, 0);
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert!(PortPool::new(0, 10, Duration::ZERO).is_err());
        assert!(PortPool::new(7000, 6000, Duration::ZERO).is_err());
    }
}
