//! What a database is: its name, port choice, password, limits and persistence.

use serde::{Deserialize, Serialize};

use crate::NodeError;

/// Where a database listens besides the front door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PortChoice {
    /// The next free port of the pool.
    #[default]
    Auto,
    /// Only through the front door.
    None,
    /// This port.
    #[serde(untagged)]
    Fixed(u16),
}

/// How a database keeps its data across stops and restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Persistence {
    /// Memory only: stop and delete lose the data.
    #[default]
    None,
    /// RDB snapshots (Redis's format): written on stop and shutdown, and every
    /// `snapshot_interval` while there are changes; loaded on start.
    Snapshot,
}

/// Limits a database runs under. 0 means unlimited, as in Redis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Bytes of data (keys, values and their bookkeeping).
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxkeys: u64,
    pub maxclients: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            maxkeys: 0,
            maxclients: 10000,
        }
    }
}

/// Where a database came from: declared ones are reconciled with the configuration
/// file at start; the others are left alone by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Config,
    #[default]
    Api,
}

/// Everything needed to create a database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    pub name: String,
    #[serde(default)]
    pub port: PortChoice,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub persistence: Persistence,
    /// Where its snapshots go (default: its directory under the data directory).
    #[serde(default)]
    pub dir: Option<std::path::PathBuf>,
    #[serde(default)]
    pub origin: Origin,
}

impl DatabaseSpec {
    /// A database with default limits and no persistence.
    pub fn new(name: impl Into<String>) -> Self {
        DatabaseSpec {
            name: name.into(),
            port: PortChoice::Auto,
            password: None,
            limits: Limits::default(),
            persistence: Persistence::None,
            dir: None,
            origin: Origin::Api,
        }
    }

    pub fn dir(mut self, d: impl Into<std::path::PathBuf>) -> Self {
        self.dir = Some(d.into());
        self
    }

    pub fn password(mut self, p: impl Into<String>) -> Self {
        self.password = Some(p.into());
        self
    }

    pub fn port(mut self, p: PortChoice) -> Self {
        self.port = p;
        self
    }

    pub fn persistence(mut self, p: Persistence) -> Self {
        self.persistence = p;
        self
    }

    pub fn limits(mut self, l: Limits) -> Self {
        self.limits = l;
        self
    }

    pub fn validate(&self) -> Result<(), NodeError> {
        validate_name(&self.name)?;
        if let Some(p) = &self.password {
            validate_password(p)?;
        }
        validate_limits(&self.limits)?;
        if self.port == PortChoice::Fixed(0) {
            return Err(NodeError::Invalid(
                "port 0 is not a port: use \"auto\" or \"none\"".into(),
            ));
        }
        Ok(())
    }
}

/// Names are AUTH user names and directory names: keep them plain.
pub fn validate_name(name: &str) -> Result<(), NodeError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name != "default"
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(NodeError::Invalid(format!(
            "invalid database name '{name}': 1 to 64 letters, digits, '-' or '_', starting with a letter or digit, and not 'default'"
        )))
    }
}

pub fn validate_password(p: &str) -> Result<(), NodeError> {
    if p.is_empty() || p.len() > 512 || p.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20) {
        return Err(NodeError::Invalid(
            "invalid password: 1 to 512 characters, no spaces or control characters".into(),
        ));
    }
    Ok(())
}

pub fn validate_limits(l: &Limits) -> Result<(), NodeError> {
    const POLICIES: &[&str] = &[
        "noeviction",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ];
    if !POLICIES.contains(&l.maxmemory_policy.as_str()) {
        return Err(NodeError::Invalid(format!(
            "invalid maxmemory_policy '{}': one of {}",
            l.maxmemory_policy,
            POLICIES.join(", ")
        )));
    }
    if l.maxclients == 0 {
        return Err(NodeError::Invalid("maxclients must be at least 1".into()));
    }
    Ok(())
}

/// A change of limits; fields left `None` stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsPatch {
    pub maxmemory: Option<u64>,
    pub maxmemory_policy: Option<String>,
    pub maxkeys: Option<u64>,
    pub maxclients: Option<u64>,
}

impl LimitsPatch {
    pub fn apply(&self, l: &Limits) -> Limits {
        Limits {
            maxmemory: self.maxmemory.unwrap_or(l.maxmemory),
            maxmemory_policy: self
                .maxmemory_policy
                .clone()
                .unwrap_or_else(|| l.maxmemory_policy.clone()),
            maxkeys: self.maxkeys.unwrap_or(l.maxkeys),
            maxclients: self.maxclients.unwrap_or(l.maxclients),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "app-1", "A_b", "0x"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a b", "../x", "default", "é", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spec_from_toml_like_json() {
        let s: DatabaseSpec = serde_json::from_str(
            r#"{"name":"a","port":6001,"password":"pw","limits":{"maxmemory":100},"persistence":"snapshot"}"#,
        )
        .expect("spec");
        assert_eq!(s.port, PortChoice::Fixed(6001));
        assert_eq!(s.limits.maxmemory, 100);
        assert_eq!(s.persistence, Persistence::Snapshot);
        let s: DatabaseSpec = serde_json::from_str(r#"{"name":"a","port":"none"}"#).expect("spec");
        assert_eq!(s.port, PortChoice::None);
        assert!(serde_json::from_str::<DatabaseSpec>(r#"{"name":"a","nope":1}"#).is_err());
    }
}
