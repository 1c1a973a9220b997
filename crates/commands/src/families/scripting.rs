//! Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT *, FCALL, FCALL_RO,
//! FUNCTION *. The Lua side lives in the `scripting` crate; the instance's state
//! (script cache, libraries, the running script) in [`crate::scripts`].

use scripting::{Library, ScriptFlags};

use crate::ctx::Ctx;
use crate::errors;
use crate::families::util::{eq_ic, glob_match, parse_i64};
use crate::scripts::{self, EvalState, Target};
use crate::spec::Handler;

pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("eval", eval),
        ("eval_ro", eval_ro),
        ("evalsha", evalsha),
        ("evalsha_ro", evalsha_ro),
        ("script|load", script_load),
        ("script|exists", script_exists),
        ("script|flush", script_flush),
        ("script|kill", script_kill),
        ("script|help", script_help),
        ("fcall", fcall),
        ("fcall_ro", fcall_ro),
        ("function|load", function_load),
        ("function|list", function_list),
        ("function|delete", function_delete),
        ("function|flush", function_flush),
        ("function|stats", function_stats),
        ("function|kill", function_kill),
        ("function|help", function_help),
        ("function|dump", function_dump),
        ("function|restore", function_restore),
    ]
}

/// (KEYS, ARGV) of a script call.
type KeysArgs<'a> = (&'a [&'a [u8]], &'a [&'a [u8]]);

/// `numkeys key... arg...` after the script / function name (argv[2..]).
fn split_keys<'a>(
    argv: &'a [&'a [u8]],
    not_number: &'static str,
) -> Result<KeysArgs<'a>, &'static str> {
    let n = parse_i64(argv[2]).ok_or(not_number)?;
    if n > (argv.len() - 3) as i64 {
        return Err(errors::NUMKEYS_TOO_MANY);
    }
    if n < 0 {
        return Err(errors::NUMKEYS_NEGATIVE);
    }
    let n = n as usize;
    Ok((&argv[3..3 + n], &argv[3 + n..]))
}

/// Compiles `body` into the instance's EVAL VM (created on first use) if needed;
/// returns its SHA1 and flags.
fn load_script(ctx: &Ctx, body: &[u8]) -> Result<(String, ScriptFlags), String> {
    let (flags, at) = scripting::shebang::eval_flags(body)?;
    let sha = scripting::sha1hex(body);
    let mut guard = ctx.inst.scripts.eval.lock();
    if guard.is_none() {
        let vm = scripting::Vm::new(false).map_err(|e| format!("ERR {e}"))?;
        *guard = Some(EvalState {
            vm,
            bodies: Default::default(),
        });
    }
    let Some(state) = guard.as_mut() else {
        return Err("ERR no Lua VM".into());
    };
    if !state.vm.has_script(&sha) {
        state.vm.compile_script(&sha, &body[at..], flags)?;
        state.bodies.insert(sha.clone(), body.to_vec());
    }
    Ok((sha, flags))
}

fn eval(ctx: &mut Ctx, argv: &[&[u8]]) {
    eval_generic(ctx, argv, false, false)
}

fn eval_ro(ctx: &mut Ctx, argv: &[&[u8]]) {
    eval_generic(ctx, argv, false, true)
}

fn evalsha(ctx: &mut Ctx, argv: &[&[u8]]) {
    eval_generic(ctx, argv, true, false)
}

fn evalsha_ro(ctx: &mut Ctx, argv: &[&[u8]]) {
    eval_generic(ctx, argv, true, true)
}

fn eval_generic(ctx: &mut Ctx, argv: &[&[u8]], by_sha: bool, ro: bool) {
    let (keys, args) = match split_keys(argv, errors::NOT_INTEGER) {
        Ok(x) => x,
        Err(e) => return ctx.error(e),
    };
    let (sha, flags) = if by_sha {
        let sha = String::from_utf8_lossy(argv[1]).to_ascii_lowercase();
        let flags = ctx
            .inst
            .scripts
            .eval
            .lock()
            .as_ref()
            .and_then(|s| s.vm.script_flags(&sha));
        match flags {
            Some(f) => (sha, f),
            None => return ctx.error(errors::NOSCRIPT),
        }
    } else {
        match load_script(ctx, argv[1]) {
            Ok(x) => x,
            Err(e) => return ctx.error(&e),
        }
    };
    if let Some(e) = refuse_by_flags(ctx, flags, ro) {
        return ctx.error(e);
    }
    scripts::run(
        ctx.inst,
        ctx.client,
        ctx.out,
        ctx.ks,
        Target::Script(&sha),
        flags,
        ro,
        keys,
        args,
        argv,
    );
}

/// Checks made before a script with a shebang (or a function) runs.
fn refuse_by_flags(ctx: &Ctx, flags: ScriptFlags, ro: bool) -> Option<&'static str> {
    if flags.has(ScriptFlags::EVAL_COMPAT) {
        return None;
    }
    let writes = !flags.has(ScriptFlags::NO_WRITES);
    if ro && writes {
        return Some(errors::SCRIPT_WRITE_FLAG_RO);
    }
    if writes && !flags.has(ScriptFlags::ALLOW_OOM) {
        let max = ctx.inst.limits.maxmemory();
        if max != 0 && ctx.inst.used_memory_for_limit() > max {
            return Some(errors::OOM);
        }
    }
    if writes
        && ctx
            .inst
            .writes_refused
            .load(std::sync::atomic::Ordering::Relaxed)
    {
        return Some(errors::MISCONF);
    }
    None
}

fn script_load(ctx: &mut Ctx, argv: &[&[u8]]) {
    match load_script(ctx, argv[2]) {
        Ok((sha, _)) => ctx.out.bulk(sha.as_bytes()),
        Err(e) => ctx.error(&e),
    }
}

fn script_exists(ctx: &mut Ctx, argv: &[&[u8]]) {
    let guard = ctx.inst.scripts.eval.lock();
    let found: Vec<bool> = argv[2..]
        .iter()
        .map(|a| {
            let sha = String::from_utf8_lossy(a).to_ascii_lowercase();
            guard.as_ref().is_some_and(|s| s.vm.has_script(&sha))
        })
        .collect();
    drop(guard);
    ctx.out.array(found.len());
    for f in found {
        ctx.out.int(f as i64);
    }
}

/// `[ASYNC|SYNC]` of SCRIPT FLUSH and FUNCTION FLUSH.
fn flush_mode_ok(argv: &[&[u8]]) -> bool {
    match argv.len() {
        2 => true,
        3 => eq_ic(argv[2], b"async") || eq_ic(argv[2], b"sync"),
        _ => false,
    }
}

fn script_flush(ctx: &mut Ctx, argv: &[&[u8]]) {
    if !flush_mode_ok(argv) {
        return ctx.error(errors::SCRIPT_FLUSH_OPTION);
    }
    // The VM goes too, as in Redis: a new one is made on the next script.
    *ctx.inst.scripts.eval.lock() = None;
    ctx.out.ok();
}

fn script_kill(ctx: &mut Ctx, _argv: &[&[u8]]) {
    match scripts::kill(ctx.inst, false) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.error(e),
    }
}

fn function_kill(ctx: &mut Ctx, _argv: &[&[u8]]) {
    match scripts::kill(ctx.inst, true) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.error(e),
    }
}

fn help(ctx: &mut Ctx, lines: &[&str]) {
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.simple(l);
    }
}

fn script_help(ctx: &mut Ctx, _argv: &[&[u8]]) {
    help(
        ctx,
        &[
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Prints this help.",
        ],
    );
}

fn function_help(ctx: &mut Ctx, _argv: &[&[u8]]) {
    help(
        ctx,
        &[
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
            "HELP",
            "    Prints this help.",
        ],
    );
}

fn fcall(ctx: &mut Ctx, argv: &[&[u8]]) {
    fcall_generic(ctx, argv, false)
}

fn fcall_ro(ctx: &mut Ctx, argv: &[&[u8]]) {
    fcall_generic(ctx, argv, true)
}

fn fcall_generic(ctx: &mut Ctx, argv: &[&[u8]], ro: bool) {
    let (keys, args) = match split_keys(argv, errors::FCALL_BAD_NUMKEYS) {
        Ok(x) => x,
        Err(e) => return ctx.error(e),
    };
    let name = String::from_utf8_lossy(argv[1]).into_owned();
    let found = {
        let st = ctx.inst.scripts.functions.lock();
        st.index.get(&name).and_then(|lib| {
            let l = st.libs.get(lib)?;
            let i = l.functions.iter().position(|f| f.name == name)?;
            Some((lib.clone(), i, l.functions[i].flags))
        })
    };
    let Some((lib, idx, flags)) = found else {
        return ctx.error(errors::FUNCTION_NOT_FOUND);
    };
    if let Some(e) = refuse_by_flags(ctx, flags, ro) {
        return ctx.error(e);
    }
    scripts::run(
        ctx.inst,
        ctx.client,
        ctx.out,
        ctx.ks,
        Target::Function(lib, idx),
        flags,
        ro,
        keys,
        args,
        argv,
    );
}

/// Loads `code` as a library; with `replace`, an existing library of that name is
/// replaced. Returns the library's name.
pub fn load_library(ctx: &Ctx, code: &[u8], replace: bool) -> Result<String, String> {
    load_library_into(ctx.inst, code, replace)
}

/// [`load_library`] for an instance (loading a snapshot's libraries).
pub fn load_library_into(
    inst: &crate::Instance,
    code: &[u8],
    replace: bool,
) -> Result<String, String> {
    let (name, at) = scripting::shebang::library_meta(code)?;
    let mut st = inst.scripts.functions.lock();
    if st.libs.contains_key(&name) && !replace {
        return Err(errors::library_exists(&name));
    }
    let mut host = NoCalls;
    let lib = st
        .vm()?
        .load_library(&name, code, at, &mut host)
        .map_err(|e| e.0)?;
    install(&mut st, lib, true)?;
    Ok(name)
}

/// Adds `lib` (replacing one of the same name when `replace`), refusing a function
/// name another library has.
fn install(st: &mut scripts::FunctionsState, lib: Library, replace: bool) -> Result<(), String> {
    if st.libs.contains_key(&lib.name) && !replace {
        return Err(errors::library_exists(&lib.name));
    }
    for f in &lib.functions {
        if let Some(owner) = st.index.get(&f.name) {
            if *owner != lib.name {
                return Err(errors::function_exists(&f.name));
            }
        }
    }
    if let Some(old) = st.libs.remove(&lib.name) {
        for f in &old.functions {
            st.index.remove(&f.name);
        }
    }
    for f in &lib.functions {
        st.index.insert(f.name.clone(), lib.name.clone());
    }
    st.libs.insert(lib.name.clone(), lib);
    Ok(())
}

/// FUNCTION LOAD runs library code that may not call commands.
struct NoCalls;

impl scripting::Host for NoCalls {
    fn call(&mut self, _argv: &[&[u8]], _resp: scripting::ScriptResp) -> resp::Frame {
        resp::Frame::Error(bytes::Bytes::from_static(
            b"ERR redis.call is not allowed while loading a library",
        ))
    }
}

fn function_load(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut replace = false;
    for a in &argv[2..argv.len() - 1] {
        if eq_ic(a, b"replace") {
            replace = true;
        } else {
            return ctx.error(&errors::unknown_option(a));
        }
    }
    let code = argv[argv.len() - 1];
    match load_library(ctx, code, replace) {
        Ok(name) => ctx.out.bulk(name.as_bytes()),
        Err(e) => ctx.error(&e),
    }
}

fn function_list(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut pattern: Option<&[u8]> = None;
    let mut withcode = false;
    let mut i = 2;
    while i < argv.len() {
        if eq_ic(argv[i], b"withcode") {
            withcode = true;
            i += 1;
        } else if eq_ic(argv[i], b"libraryname") {
            if i + 1 >= argv.len() {
                return ctx.error(errors::LIBRARY_NAME_MISSING);
            }
            pattern = Some(argv[i + 1]);
            i += 2;
        } else {
            return ctx.error(&errors::unknown_argument(argv[i]));
        }
    }
    let st = ctx.inst.scripts.functions.lock();
    let libs: Vec<&Library> = st
        .libs
        .values()
        .filter(|l| pattern.is_none_or(|p| glob_match(p, l.name.as_bytes(), false)))
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for l in libs {
        out.map(if withcode { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(l.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(l.functions.len());
        for f in &l.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d.as_bytes()),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names = f.flags.names();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if withcode {
            out.bulk(b"library_code");
            out.bulk(&l.code);
        }
    }
}

fn function_delete(ctx: &mut Ctx, argv: &[&[u8]]) {
    let name = String::from_utf8_lossy(argv[2]).into_owned();
    let mut st = ctx.inst.scripts.functions.lock();
    match st.libs.remove(&name) {
        Some(lib) => {
            for f in &lib.functions {
                st.index.remove(&f.name);
            }
            drop(st);
            ctx.out.ok();
        }
        None => {
            drop(st);
            ctx.error(errors::LIBRARY_NOT_FOUND)
        }
    }
}

fn function_flush(ctx: &mut Ctx, argv: &[&[u8]]) {
    if !flush_mode_ok(argv) {
        return ctx.error(errors::FUNCTION_FLUSH_OPTION);
    }
    let mut st = ctx.inst.scripts.functions.lock();
    st.libs.clear();
    st.index.clear();
    st.vm = None;
    drop(st);
    ctx.out.ok();
}

fn function_stats(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let running = ctx.inst.scripts.running().filter(|r| r.function);
    let (libs, funcs) = {
        // While a function runs its VM is in use: count from the index only.
        match ctx.inst.scripts.functions.try_lock() {
            Some(st) => (st.libs.len(), st.index.len()),
            None => (0, 0),
        }
    };
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match running {
        Some(r) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(r.name.as_bytes());
            out.bulk(b"command");
            out.array(r.command.len());
            for a in &r.command {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(r.started.elapsed().as_millis() as i64);
        }
        None => out.null(),
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libs as i64);
    out.bulk(b"functions_count");
    out.int(funcs as i64);
}

/// RDB opcode of a library in a FUNCTION DUMP payload (and in RDB files).
const RDB_OPCODE_FUNCTION2: u8 = 245;
/// The RDB version Redis 7.0 writes.
const RDB_VERSION: u16 = 10;

/// An RDB length.
fn put_len(out: &mut Vec<u8>, n: usize) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as usize {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
}

/// The FUNCTION DUMP payload: each library's code as an RDB string after the
/// FUNCTION2 opcode, then the RDB version and a CRC-64, as Redis writes it. Long
/// codes are LZF-compressed, as Redis does with rdbcompression on.
pub fn dump_payload(libs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for code in libs {
        out.push(RDB_OPCODE_FUNCTION2);
        let compressed = if code.len() > 20 {
            persistence::lzf::compress(code, code.len().saturating_sub(4))
        } else {
            None
        };
        match compressed {
            Some(c) => {
                out.push(0xC3);
                put_len(&mut out, c.len());
                put_len(&mut out, code.len());
                out.extend_from_slice(&c);
            }
            None => {
                put_len(&mut out, code.len());
                out.extend_from_slice(code);
            }
        }
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = persistence::crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn get_len(p: &[u8], i: &mut usize) -> Option<(usize, bool)> {
    let b = *p.get(*i)?;
    *i += 1;
    match b >> 6 {
        0 => Some(((b & 0x3f) as usize, false)),
        1 => {
            let b2 = *p.get(*i)?;
            *i += 1;
            Some(((((b & 0x3f) as usize) << 8) | b2 as usize, false))
        }
        2 if b == 0x80 => {
            let v = p.get(*i..*i + 4)?;
            *i += 4;
            Some((u32::from_be_bytes(v.try_into().ok()?) as usize, false))
        }
        2 if b == 0x81 => {
            let v = p.get(*i..*i + 8)?;
            *i += 8;
            Some((u64::from_be_bytes(v.try_into().ok()?) as usize, false))
        }
        3 => Some(((b & 0x3f) as usize, true)),
        _ => None,
    }
}

/// The library codes of a FUNCTION DUMP payload, or None when it is not one.
pub fn parse_payload(p: &[u8]) -> Option<Vec<Vec<u8>>> {
    if p.len() < 10 {
        return None;
    }
    let (body, crc) = p.split_at(p.len() - 8);
    if persistence::crc64::crc64(body).to_le_bytes() != crc {
        return None;
    }
    let (data, ver) = body.split_at(body.len() - 2);
    if u16::from_le_bytes([ver[0], ver[1]]) > RDB_VERSION {
        return None;
    }
    let mut i = 0;
    let mut libs = Vec::new();
    while i < data.len() {
        if data[i] != RDB_OPCODE_FUNCTION2 {
            return None;
        }
        i += 1;
        let (n, special) = get_len(data, &mut i)?;
        if special {
            if n != 3 {
                return None;
            }
            let (clen, _) = get_len(data, &mut i)?;
            let (len, _) = get_len(data, &mut i)?;
            let c = data.get(i..i + clen)?;
            i += clen;
            libs.push(persistence::lzf::decompress(c, len).ok()?);
        } else {
            libs.push(data.get(i..i + n)?.to_vec());
            i += n;
        }
    }
    Some(libs)
}

/// The codes of the instance's libraries, by name (what a snapshot keeps).
pub fn library_codes(inst: &crate::Instance) -> Vec<Vec<u8>> {
    inst.scripts
        .functions
        .lock()
        .libs
        .values()
        .map(|l| l.code.clone())
        .collect()
}

fn function_dump(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let codes: Vec<Vec<u8>> = ctx
        .inst
        .scripts
        .functions
        .lock()
        .libs
        .values()
        .map(|l| l.code.clone())
        .collect();
    ctx.out.bulk(&dump_payload(&codes));
}

fn function_restore(ctx: &mut Ctx, argv: &[&[u8]]) {
    #[derive(PartialEq)]
    enum Policy {
        Flush,
        Append,
        Replace,
    }
    let policy = match argv.get(3) {
        None => Policy::Append,
        Some(p) if eq_ic(p, b"flush") => Policy::Flush,
        Some(p) if eq_ic(p, b"append") => Policy::Append,
        Some(p) if eq_ic(p, b"replace") => Policy::Replace,
        Some(_) => return ctx.error(errors::FUNCTION_RESTORE_POLICY),
    };
    if argv.len() > 4 {
        return ctx.error(errors::FUNCTION_RESTORE_POLICY);
    }
    let Some(codes) = parse_payload(argv[2]) else {
        return ctx.error(errors::FUNCTION_RESTORE_PAYLOAD);
    };
    // Load into a fresh state first: nothing changes unless every library loads.
    let mut fresh = scripts::FunctionsState::default();
    let mut host = NoCalls;
    for code in &codes {
        let r = scripting::shebang::library_meta(code).and_then(|(name, at)| {
            fresh
                .vm()?
                .load_library(&name, code, at, &mut host)
                .map_err(|e| e.0)
        });
        match r.and_then(|lib| install(&mut fresh, lib, false)) {
            Ok(()) => {}
            Err(e) => return ctx.error(&e),
        }
    }
    let mut st = ctx.inst.scripts.functions.lock();
    let result = match policy {
        Policy::Flush => {
            *st = fresh;
            Ok(())
        }
        Policy::Append | Policy::Replace => {
            // Reload into the live VM so that one VM holds every library.
            let mut merged = scripts::FunctionsState {
                vm: st.vm.take(),
                libs: std::mem::take(&mut st.libs),
                index: std::mem::take(&mut st.index),
            };
            let backup = (merged.libs.clone(), merged.index.clone());
            let mut res = Ok(());
            for code in &codes {
                let r = scripting::shebang::library_meta(code).and_then(|(name, at)| {
                    merged
                        .vm()?
                        .load_library(&name, code, at, &mut host)
                        .map_err(|e| e.0)
                });
                if let Err(e) =
                    r.and_then(|lib| install(&mut merged, lib, policy == Policy::Replace))
                {
                    res = Err(e);
                    break;
                }
            }
            if res.is_err() {
                merged.libs = backup.0;
                merged.index = backup.1;
            }
            *st = merged;
            res
        }
    };
    drop(st);
    match result {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.error(&e),
    }
}

#[cfg(test)]
mod tests {
    use crate::families::util::testkit::Kit;

    /// Runs one command given as arguments through dispatch.
    fn run(k: &mut Kit, argv: &[&str]) -> String {
        let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        k.out.clear();
        crate::dispatch::dispatch(&k.inst, &mut k.client, &mut k.out, &argv);
        String::from_utf8_lossy(k.out.as_bytes()).into_owned()
    }

    fn info_field(k: &mut Kit, name: &str) -> u64 {
        let text = k.run("info memory");
        let prefix = format!("{name}:");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    }

    /// VMs are made on first use, per instance, and INFO reports them.
    #[test]
    fn vms_are_lazy_and_per_instance() {
        let mut k = Kit::new();
        let mut other = Kit::new();
        assert_eq!(info_field(&mut k, "used_memory_vm_eval"), 0);
        assert_eq!(info_field(&mut k, "used_memory_vm_functions"), 0);
        assert_eq!(run(&mut k, &["eval", "return 1", "0"]), ":1\r\n");
        let vm = info_field(&mut k, "used_memory_vm_eval");
        assert!(vm > 10_000 && vm < 256 * 1024, "{vm}");
        assert_eq!(info_field(&mut k, "number_of_cached_scripts"), 1);
        // The other database has no VM, and not this one's scripts.
        assert_eq!(info_field(&mut other, "used_memory_vm_eval"), 0);
        assert_eq!(
            other.run("script exists e0e1f9fabfc9d4800c877a703b823ac0578ff8db"),
            "*1\r\n:0\r\n"
        );
        assert_eq!(
            run(
                &mut k,
                &[
                    "function",
                    "load",
                    "#!lua name=l\nredis.register_function('f', function() return 2 end)"
                ]
            ),
            "$1\r\nl\r\n"
        );
        assert_eq!(info_field(&mut k, "number_of_functions"), 1);
        assert_eq!(info_field(&mut k, "number_of_libraries"), 1);
        assert!(info_field(&mut k, "used_memory_vm_functions") > 0);
        assert_eq!(other.run("fcall f 0"), "-ERR Function not found\r\n");
        assert_eq!(k.run("fcall f 0"), ":2\r\n");
        assert_eq!(k.run("script flush"), "+OK\r\n");
        assert_eq!(info_field(&mut k, "used_memory_vm_eval"), 0);
        assert_eq!(k.run("function flush"), "+OK\r\n");
        assert_eq!(info_field(&mut k, "used_memory_vm_functions"), 0);
    }

    /// A script's writes go through the keyspace's accounting like any command's.
    #[test]
    fn script_writes_are_accounted() {
        let mut k = Kit::new();
        assert_eq!(
            run(
                &mut k,
                &[
                    "eval",
                    "for i = 1, 50 do redis.call('rpush', 'l', i) end redis.call('hset', 'h', 'f', 'v') redis.call('del', 'l') return redis.call('dbsize')",
                    "0"
                ]
            ),
            ":1\r\n"
        );
        k.inst.ks.check_accounting();
    }
}
