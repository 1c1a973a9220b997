//! The node manager: many tenant databases in one process.
//!
//! Each database is a [`commands::Instance`] (its own keyspace of 16 logical DBs,
//! configuration, clients and statistics) served by the process's shared I/O pool on
//! its own port from a pool, and through the front door, where
//! `AUTH <database> <password>` picks it (the manager is the front door's
//! [`commands::Directory`]). The manager owns the lifecycle (create, start, stop,
//! restart, delete, live limit and password changes), persistence (RDB snapshots),
//! supervision (health checks through the database's own port, restarts with
//! backoff), and a manifest on disk so that after a process restart every database
//! that was running comes back on its port with its data.

mod manager;
pub mod manifest;
mod ports;
mod spec;
mod supervisor;
#[doc(hidden)]
pub mod testing;

pub use manager::{Capacity, DatabaseInfo, Event, NodeManager, Settings, Status};
pub use ports::{PortCapacity, PortPool};
pub use spec::{DatabaseSpec, Limits, LimitsPatch, Origin, Persistence, PortChoice};

/// Errors of node-manager operations, worded for the operator.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum NodeError {
    #[error("{0}")]
    Invalid(String),
    #[error("database '{0}' already exists")]
    Exists(String),
    #[error("no database named '{0}'")]
    NotFound(String),
    #[error("no free port in {start}-{end} ({quarantined} in quarantine after release, {skipped} taken by other programs)")]
    PortsExhausted {
        start: u16,
        end: u16,
        quarantined: usize,
        skipped: usize,
    },
    #[error("port {0} is not available: {1}")]
    PortInUse(u16, String),
    #[error("database '{name}' is {status}: {action} is not possible now")]
    WrongState {
        name: String,
        status: String,
        action: &'static str,
    },
    #[error("persistence failed for '{0}': {1}")]
    Persistence(String, String),
    #[error("{0}")]
    Io(String),
    #[error("the node manager is shutting down")]
    ShuttingDown,
}
