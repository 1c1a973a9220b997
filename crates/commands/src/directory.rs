//! How a shared front-door port finds a tenant database: `AUTH <database> <password>`
//! (or `HELLO 3 AUTH <database> <password>`) asks the process's [`Directory`], which
//! the node manager implements.

use std::sync::Arc;

use crate::instance::Instance;

/// Why a database could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Unknown database or wrong password: the same answer for both, so a client
    /// without the password learns nothing about which databases exist.
    WrongPass,
    /// The password was right but the database is not serving (stopped, failed...).
    NotRunning { status: String },
    /// The database is at its maxclients.
    Full,
}

/// Resolves database names to running instances.
pub trait Directory: Send + Sync {
    /// The running database `name`, if `password` opens it.
    fn open(&self, name: &[u8], password: &[u8]) -> Result<Arc<Instance>, OpenError>;
}

/// Compares secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
