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

/// Errors of the C libraries Redis ships (cjson, cmsgpack, bit, struct) carry the
/// position of the Lua code that called them, as `luaL_error` adds it: every function
/// of `lib` is wrapped so that its error gets that prefix.
pub(crate) fn with_positions(lua: &mlua::Lua, lib: &mlua::Table) -> mlua::Result<()> {
    let fns: Vec<(mlua::Value, mlua::Function)> = lib
        .pairs::<mlua::Value, mlua::Value>()
        .filter_map(Result::ok)
        .filter_map(|(k, v)| match v {
            mlua::Value::Function(f) => Some((k, f)),
            _ => None,
        })
        .collect();
    for (k, f) in fns {
        let wrapped = lua.create_function(move |lua, args: mlua::MultiValue| {
            f.call::<mlua::MultiValue>(args).map_err(|e| {
                let msg = vm::error_message(&e);
                let at = lua
                    .inspect_stack(1, |d| {
                        let s = d.source();
                        let line = d.current_line();
                        match (s.what, s.short_src, line) {
                            ("C", _, _) | (_, None, _) | (_, _, None) => String::new(),
                            (_, Some(src), Some(l)) => format!("{src}:{l}: "),
                        }
                    })
                    .unwrap_or_default();
                mlua::Error::RuntimeError(format!("{at}{msg}"))
            })
        })?;
        lib.raw_set(k, wrapped)?;
    }
    Ok(())
}

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
