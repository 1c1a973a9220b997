//! Everything that can go wrong while saving or loading a snapshot.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Why a snapshot could not be written or read. Messages name what was wrong and,
/// for file contents, at which byte.
#[derive(Debug, Error)]
pub enum PersistError {
    /// A file-system operation on a known path failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Reading from a caller-supplied stream failed ([`load`](crate::load) adds the path).
    #[error("read error: {0}")]
    Read(#[source] io::Error),
    /// Writing to a caller-supplied stream failed ([`save`](crate::save) adds the path).
    #[error("write error: {0}")]
    Write(#[source] io::Error),
    #[error("not an RDB file: it does not start with REDIS and a four-digit version")]
    BadMagic,
    #[error("RDB format version {0} is not supported (this build reads versions 1 to 10, as Redis 7.0 does)")]
    UnsupportedVersion(u32),
    #[error("unexpected end of file at byte {offset}")]
    UnexpectedEof { offset: u64 },
    #[error("bad checksum: the file says {stored:#018x} but its contents give {computed:#018x}")]
    BadChecksum { stored: u64, computed: u64 },
    #[error("corrupt RDB file at byte {offset}: {reason}")]
    Corrupt { offset: u64, reason: String },
    #[error("RDB value type {code} ({name}) is not supported yet (key {} in db {db})", show_key(.key))]
    UnsupportedType {
        code: u8,
        name: &'static str,
        key: Vec<u8>,
        db: u64,
    },
    /// An item that is not a key/value pair and that the engine cannot hold.
    #[error("RDB opcode {code} ({what}) is not supported yet")]
    UnsupportedOpcode { code: u8, what: &'static str },
    /// A MiniRedis tag field (see `crate::tags`) that does not decode.
    #[error("corrupt miniredis-tags field: {0}")]
    BadTags(String),
    #[error("database index {index} is out of range (the keyspace has {databases} databases)")]
    DbOutOfRange { index: u64, databases: usize },
}

impl PersistError {
    /// Attaches `path` to a stream error, for the file-level entry points.
    pub(crate) fn with_path(self, path: &std::path::Path) -> Self {
        match self {
            PersistError::Read(source) => PersistError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            },
            PersistError::Write(source) => PersistError::Io {
                action: "write",
                path: path.to_path_buf(),
                source,
            },
            other => other,
        }
    }
}

/// A key as text: quoted, with non-printable bytes escaped, cut after 64 bytes.
pub(crate) fn show_key(key: &[u8]) -> String {
    const MAX: usize = 64;
    let mut s = String::from("\"");
    for &b in key.iter().take(MAX) {
        s.extend(std::ascii::escape_default(b).map(char::from));
    }
    s.push('"');
    if key.len() > MAX {
        s.push_str(&format!("... ({} bytes)", key.len()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_readable() {
        let e = PersistError::UnsupportedType {
            code: 14,
            name: "list quicklist",
            key: b"my\nlist".to_vec(),
            db: 3,
        };
        assert_eq!(
            e.to_string(),
            "RDB value type 14 (list quicklist) is not supported yet (key \"my\\nlist\" in db 3)"
        );
        let e = PersistError::Read(io::Error::other("boom")).with_path("/x/dump.rdb".as_ref());
        assert_eq!(e.to_string(), "cannot read /x/dump.rdb: boom");
        assert_eq!(
            PersistError::UnexpectedEof { offset: 9 }.to_string(),
            "unexpected end of file at byte 9"
        );
    }
}
