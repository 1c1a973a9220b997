//! Lua scripting as Redis 7.0 has it: EVAL's and FUNCTION's Lua 5.1 VMs.
//!
//! * [`Vm`]: one Lua state with Redis's sandbox (the same globals as Redis, every
//!   library and `_G` read-only, reads of missing globals refused), the `redis`
//!   library, and the cjson, cmsgpack, bit and struct libraries.
//! * [`Host`]: what `redis.call` / `redis.pcall` run commands through. This crate
//!   knows no keyspace: the caller (the `commands` crate) runs each command with the
//!   script's locks and hands back the reply as a [`resp::Frame`].
//! * Conversions both ways, as Redis does them (see [`convert`]).
//! * [`Control`]: shared with other connections, so that SCRIPT KILL / FUNCTION
//!   KILL can stop a running script (a Lua instruction-count hook checks it).
//! * Shebang parsing for EVAL (`#!lua flags=...`) and libraries (`#!lua name=...`).

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod convert;
pub mod rand48;
pub mod shebang;
pub mod structlib;
mod vm;

pub use convert::ScriptResp;
pub use shebang::{ScriptFlags, FLAG_NAMES};
pub use vm::{Control, Function, Host, Library, LoadError, RunError, Vm, KILLED_MSG};

/// SHA1 of `data` as 40 lower-case hex digits (script ids, `redis.sha1hex`).
pub fn sha1hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha1_of_known_inputs() {
        assert_eq!(
            super::sha1hex(b""),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(
            super::sha1hex(b"return 1"),
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
    }
}
