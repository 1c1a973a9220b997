//! The manager's record on disk: which databases exist, their ports, whether they
//! should be running, and which ports rest in quarantine. Written atomically (temp
//! file, fsync, rename) after every change, so a killed process restarts with the
//! last acknowledged state. The file holds passwords, so it is created 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::spec::DatabaseSpec;

pub const FILE_NAME: &str = "databases.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub spec: DatabaseSpec,
    /// The port the database keeps for its whole life (None: front door only).
    pub port: Option<u16>,
    /// Should it be running after a process restart?
    pub running: bool,
    pub created_at_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct Manifest {
    pub version: u32,
    pub databases: Vec<Record>,
    /// (port, unix ms until which it rests).
    #[serde(default)]
    pub quarantine: Vec<(u16, u64)>,
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Reads the manifest; a missing file is an empty manifest, a damaged one an error
/// (starting with no databases would silently drop every tenant).
pub fn read(dir: &Path) -> Result<Manifest, String> {
    let p = path(dir);
    match std::fs::read(&p) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| format!("cannot parse {}: {e}", p.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
            version: 1,
            ..Manifest::default()
        }),
        Err(e) => Err(format!("cannot read {}: {e}", p.display())),
    }
}

pub fn write(dir: &Path, m: &Manifest) -> Result<(), String> {
    let p = path(dir);
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    let bytes = serde_json::to_vec_pretty(m).map_err(|e| e.to_string())?;
    let res = (|| -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &p)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    res.map_err(|e| format!("cannot write {}: {e}", p.display()))
}
