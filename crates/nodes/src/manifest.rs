//! The manager's record on disk. Each database has a small `database.json` in its own
//! directory (its spec, port, whether it should be running); the ports resting in
//! quarantine are in `quarantine.json`. A change rewrites one small file atomically
//! (temp file, fsync, rename, fsync of the directory), so the cost of a change does
//! not grow with the number of databases, and a killed process restarts with the last
//! acknowledged state. The files hold passwords, so they are created 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::spec::DatabaseSpec;

pub const RECORD_FILE: &str = "database.json";
pub const QUARANTINE_FILE: &str = "quarantine.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub spec: DatabaseSpec,
    /// The port the database keeps for its whole life (None: front door only).
    pub port: Option<u16>,
    /// Should it be running after a process restart?
    pub running: bool,
    pub created_at_ms: u64,
}

/// Where the databases' directories live.
pub fn databases_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("databases")
}

/// Reads every database's record. A directory without a record (a create that did
/// not finish) is skipped; a damaged record is an error, because starting without a
/// database would silently drop a tenant.
pub fn read_all(data_dir: &Path) -> Result<Vec<Record>, String> {
    let dir = databases_dir(data_dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let p = entry.path().join(RECORD_FILE);
        match std::fs::read(&p) {
            Ok(bytes) => {
                let r = parse_record(&bytes).map_err(|e| format!("in {}: {e}", p.display()))?;
                if entry.file_name().to_str() != Some(r.spec.name.as_str()) {
                    return Err(format!(
                        "{} names database '{}', not its directory's",
                        p.display(),
                        r.spec.name
                    ));
                }
                out.push(r);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", p.display())),
        }
    }
    out.sort_by_key(|r| r.created_at_ms);
    Ok(out)
}

/// Parses a `database.json`. Untrusted input: a damaged or hand-edited file gets an
/// error naming what is wrong, never a panic, and a record whose spec would not pass
/// validation is refused as the API would refuse it.
pub fn parse_record(bytes: &[u8]) -> Result<Record, String> {
    let r: Record = serde_json::from_slice(bytes).map_err(|e| format!("cannot parse: {e}"))?;
    r.spec.validate().map_err(|e| e.to_string())?;
    Ok(r)
}

pub fn write_record(data_dir: &Path, r: &Record) -> Result<(), String> {
    let dir = databases_dir(data_dir).join(&r.spec.name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let bytes = serde_json::to_vec_pretty(r).map_err(|e| e.to_string())?;
    write_atomic(&dir, RECORD_FILE, &bytes)
}

/// (port, unix ms until which it rests).
pub fn read_quarantine(data_dir: &Path) -> Result<Vec<(u16, u64)>, String> {
    let p = data_dir.join(QUARANTINE_FILE);
    match std::fs::read(&p) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| format!("cannot parse {}: {e}", p.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", p.display())),
    }
}

pub fn write_quarantine(data_dir: &Path, q: &[(u16, u64)]) -> Result<(), String> {
    let bytes = serde_json::to_vec(q).map_err(|e| e.to_string())?;
    write_atomic(data_dir, QUARANTINE_FILE, &bytes)
}

/// Makes a removal (a deleted database's directory) durable.
pub fn sync_dir(dir: &Path) -> Result<(), String> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("cannot sync {}: {e}", dir.display()))
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let p = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let res = (|| -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &p)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    res.map_err(|e| format!("cannot write {}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Limits, Origin, Persistence, PortChoice};
    use proptest::prelude::*;

    fn record() -> impl Strategy<Value = Record> {
        (
            "[a-z0-9][a-z0-9_-]{0,20}",
            prop::option::of("[!-~]{1,30}"),
            prop_oneof![
                Just(PortChoice::Auto),
                Just(PortChoice::None),
                (1u16..).prop_map(PortChoice::Fixed)
            ],
            (any::<u64>(), any::<u64>(), 1u64..),
            any::<bool>(),
            prop::option::of(any::<u16>()),
            any::<u64>(),
        )
            .prop_map(|(name, password, port, (mm, mk, mc), snap, p, at)| Record {
                spec: DatabaseSpec {
                    name,
                    port,
                    password,
                    limits: Limits {
                        maxmemory: mm,
                        maxmemory_policy: "allkeys-lru".into(),
                        maxkeys: mk,
                        maxclients: mc,
                    },
                    persistence: if snap {
                        Persistence::Snapshot
                    } else {
                        Persistence::None
                    },
                    dir: None,
                    origin: Origin::Config,
                },
                port: p,
                running: snap,
                created_at_ms: at,
            })
    }

    proptest! {
        #[test]
        fn records_round_trip(r in record()) {
            prop_assume!(r.spec.name != "default");
            let bytes = serde_json::to_vec_pretty(&r).expect("serialize");
            prop_assert_eq!(parse_record(&bytes).expect("parse"), r);
        }

        #[test]
        fn damaged_records_are_errors_not_panics(
            r in record(),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut bytes = serde_json::to_vec(&r).expect("serialize");
            let i = flip.index(bytes.len());
            bytes[i] = byte;
            let _ = parse_record(&bytes);
            let n = cut.index(bytes.len());
            let _ = parse_record(&bytes[..n]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_record(&bytes);
        }
    }
}
