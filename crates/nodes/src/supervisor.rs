//! Supervision: every database is checked on a schedule with a real PING through its
//! own port (AUTH first when it has a password), a database whose listener died or
//! whose check failed is marked failed and brought back with backoff, and databases
//! with persistence and unsaved changes are snapshotted every `snapshot_interval`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Weak;
use std::time::{Duration, Instant};

use crate::manager::{NodeManager, Status};
use crate::spec::Persistence;

/// How often the supervisor looks at every database.
const TICK: Duration = Duration::from_millis(100);
/// Connect and reply timeout of a health check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn run(mgr: Weak<NodeManager>) {
    loop {
        let Some(m) = mgr.upgrade() else { return };
        if m.stopping.load(Relaxed) {
            return;
        }
        tick(&m);
        drop(m);
        std::thread::sleep(TICK);
    }
}

fn tick(m: &NodeManager) {
    let cells: Vec<_> = m.dbs.read().values().cloned().collect();
    for cell in cells {
        if m.stopping.load(Relaxed) {
            return;
        }
        // What to check, read under the lock; the check itself runs without it.
        let probe = {
            let mut db = cell.lock();
            match db.status {
                Status::Running => {
                    let dead = db.listener.as_ref().is_some_and(|l| !l.is_alive());
                    if dead {
                        m.fail(&mut db, "its listener stopped".into(), false);
                        None
                    } else if db.port.is_some()
                        && db.last_health.elapsed() >= m.settings.health_interval
                    {
                        db.last_health = Instant::now();
                        db.port.map(|p| (p, db.spec.password.clone()))
                    } else {
                        None
                    }
                }
                Status::Failed if m.due(&db) => {
                    let _ = m.recover(&mut db);
                    None
                }
                _ => None,
            }
        };
        if let Some((port, password)) = probe {
            let addr = SocketAddr::new(m.settings.host, port);
            if let Err(e) = ping(addr, password.as_deref()) {
                let mut db = cell.lock();
                if db.status == Status::Running {
                    m.fail(&mut db, format!("health check failed: {e}"), false);
                }
            }
        }
        let mut db = cell.lock();
        let snapshot_due = db.status == Status::Running
            && db.spec.persistence == Persistence::Snapshot
            && db.last_save_at.elapsed() >= m.settings.snapshot_interval
            && db
                .instance
                .as_ref()
                .is_some_and(|i| i.dirty.load(Relaxed) > 0);
        if snapshot_due {
            if let Err(e) = m.save_locked(&mut db) {
                m.fail(&mut db, e.to_string(), true);
            }
        }
    }
}

/// A real PING through the database's port: connect, AUTH if it has a password, PING,
/// and expect +PONG.
pub fn ping(addr: SocketAddr, password: Option<&str>) -> Result<(), String> {
    let mut s = TcpStream::connect_timeout(&addr, CHECK_TIMEOUT).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(CHECK_TIMEOUT))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(CHECK_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut req = Vec::new();
    let mut want: &[u8] = b"+PONG\r\n";
    if let Some(p) = password {
        req.extend_from_slice(format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{p}\r\n", p.len()).as_bytes());
        want = b"+OK\r\n+PONG\r\n";
    }
    req.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    s.write_all(&req).map_err(|e| e.to_string())?;
    let mut got = Vec::with_capacity(want.len());
    let mut buf = [0u8; 64];
    while got.len() < want.len() {
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        got.extend_from_slice(&buf[..n]);
    }
    if got.starts_with(want) {
        Ok(())
    } else {
        Err(format!(
            "unexpected reply {:?}",
            String::from_utf8_lossy(&got[..got.len().min(80)])
        ))
    }
}
