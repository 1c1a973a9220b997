//! One Lua VM: EVAL's (scripts by SHA1) or FUNCTION's (libraries of named functions).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use mlua::{
    ChunkMode, Function as LuaFunction, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table,
    Value, VmState,
};
use parking_lot::Mutex;
use resp::{Frame, ReplyWriter};

use crate::convert::{frame_to_lua, lua_to_reply, ScriptResp};
use crate::rand48::Rand48;
use crate::shebang::{flag_by_name, valid_name, ScriptFlags};

/// What `redis.call` and `redis.pcall` run commands through.
pub trait Host {
    /// Runs one command; refusals (unknown command, arity, flags) and the command's
    /// own errors come back as [`Frame::Error`] holding the whole message.
    fn call(&mut self, argv: &[&[u8]], resp: ScriptResp) -> Frame;
}

/// Shared with other connections while a script runs: SCRIPT KILL sets `kill`.
#[derive(Debug, Default)]
pub struct Control {
    pub kill: AtomicBool,
    /// While a library loads: when its time is up (FUNCTION LOAD's 500 ms limit).
    load_deadline: Mutex<Option<std::time::Instant>>,
}

/// How long a library's code may run while it loads, as in Redis.
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// The error a killed script's caller gets (before " script: ...").
pub const KILLED_MSG: &str = "ERR Script killed by user with SCRIPT KILL...";

/// Instructions between two looks at the kill flag.
const HOOK_EVERY: u32 = 10_000;

/// A function of a library.
#[derive(Clone, Debug)]
pub struct Function {
    pub name: String,
    pub description: Option<String>,
    pub flags: ScriptFlags,
    callback: LuaFunction,
}

/// A loaded library.
#[derive(Clone, Debug)]
pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    pub functions: Vec<Function>,
}

/// Why a library did not load: the whole error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

/// A script that failed at run time: the whole error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError(pub String);

/// Which chunk names are user code (error positions point there).
const EVAL_CHUNK: &str = "@user_script";
const FUNCTION_CHUNK: &str = "@user_function";

/// The Lua part of the sandbox: read-only globals and libraries, the error handler,
/// `redis.call`/`redis.pcall` around the host. Runs once per VM with the real globals.
const PRELUDE: &str = r#"
local G = ...
local rawget, rawset, next, type, error, setmetatable, tostring, pairs =
      rawget, rawset, next, type, error, setmetatable, tostring, pairs
local backing = setmetatable({}, {__mode = 'k'})
local function refuse(t, k, v) error('Attempt to modify a readonly table', 2) end
local function missing(t, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local function readonly(real, strict)
  local p = {}
  backing[p] = real
  local mt = {__index = real, __newindex = refuse, __metatable = false}
  return setmetatable(p, mt)
end
local api = {}
api.readonly = readonly
api.backing = backing
api.missing = missing
api.refuse = refuse
G.pairs = function(t)
  local a, b, c = pairs(backing[t] or t)
  return a, b, c
end
G.next = function(t, k)
  local a, b = next(backing[t] or t, k)
  return a, b
end
G.rawget = function(t, k)
  local v = rawget(backing[t] or t, k)
  return v
end
G.rawset = function(t, k, v)
  if backing[t] or t == G or api.locked[t] then
    error('Attempt to modify a readonly table', 0)
  end
  rawset(t, k, v)
  return t
end
api.locked = setmetatable({}, {__mode = 'k'})
-- pcall hands back an error table's message, as Redis 7.0's does.
local pcall_ = pcall
local function unwrap(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == 'table' and e.err ~= nil then return false, e.err end
  return false, e
end
G.pcall = function(...) return unwrap(pcall_(...)) end
local xpcall, select, unpack = xpcall, select, unpack
-- Runs f(...) under Redis's error handler h (Lua 5.1's xpcall passes no arguments).
api.run = function(f, h, ...)
  local n = select('#', ...)
  local args = {...}
  return xpcall(function() return f(unpack(args, 1, n)) end, h)
end
return api
"#;

/// Registry key of the function `redis.call` / `redis.pcall` hand their arguments to.
const HOST_FN: &str = "mr.hostfn";

/// Calls the host with the arguments on the stack; leaves (reply, failed).
///
/// # Safety
/// `l` is a live Lua state running this C function.
unsafe fn call_host(l: *mut mlua::lua_State) -> bool {
    use mlua::ffi;
    // SAFETY: called by Lua with a valid state; every push is preceded by a check.
    unsafe {
        let n = ffi::lua_gettop(l);
        ffi::luaL_checkstack(l, 3, std::ptr::null());
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"mr.hostfn".as_ptr());
        ffi::lua_insert(l, 1);
        ffi::lua_call(l, n, 2);
        let failed = ffi::lua_toboolean(l, -1) != 0;
        ffi::lua_settop(l, -2);
        failed
    }
}

/// `redis.call`: raises the error table when the command failed.
unsafe extern "C-unwind" fn redis_call_c(l: *mut mlua::lua_State) -> std::os::raw::c_int {
    // SAFETY: see call_host; lua_error raises the table left on the stack.
    unsafe {
        if call_host(l) {
            mlua::ffi::lua_error(l);
        }
    }
    1
}

/// `redis.pcall`: returns the error table when the command failed.
unsafe extern "C-unwind" fn redis_pcall_c(l: *mut mlua::lua_State) -> std::os::raw::c_int {
    // SAFETY: see call_host.
    unsafe {
        call_host(l);
    }
    1
}

/// One Lua VM with Redis's environment.
pub struct Vm {
    lua: Lua,
    control: Arc<Control>,
    functions_vm: bool,
    /// EVAL: compiled scripts by SHA1.
    scripts: HashMap<String, (LuaFunction, ScriptFlags)>,
    /// The user-visible globals (a read-only proxy of the real ones).
    user_env: Table,
    /// The real globals.
    globals: Table,
    api: Table,
    /// FUNCTION: functions registered by the library being loaded.
    pending: Arc<Mutex<Option<Vec<Function>>>>,
    resp: Arc<Mutex<ScriptResp>>,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("functions_vm", &self.functions_vm)
            .field("scripts", &self.scripts.len())
            .finish_non_exhaustive()
    }
}

/// The global names Redis's scripts see (everything else of the base library goes).
const KEEP_GLOBALS: &[&str] = &[
    "_G",
    "_VERSION",
    "assert",
    "collectgarbage",
    "coroutine",
    "error",
    "gcinfo",
    "getmetatable",
    "ipairs",
    "load",
    "loadstring",
    "math",
    "next",
    "pairs",
    "pcall",
    "rawequal",
    "rawget",
    "rawset",
    "select",
    "setmetatable",
    "string",
    "table",
    "tonumber",
    "tostring",
    "type",
    "unpack",
    "xpcall",
];

fn rt(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

/// The message of an error raised from Rust (or by Lua's own machinery).
pub(crate) fn error_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => error_message(cause),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::WithContext { cause, .. } => error_message(cause),
        other => other.to_string(),
    }
}

impl Vm {
    /// A new VM: EVAL's (`functions == false`) or FUNCTION's.
    pub fn new(functions: bool) -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        let globals = lua.globals();
        // Redis's globals only.
        let names: Vec<String> = globals
            .pairs::<String, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| k)
            .collect();
        for n in names {
            if !KEEP_GLOBALS.contains(&n.as_str()) {
                globals.raw_set(n, Value::Nil)?;
            }
        }
        let control = Arc::new(Control::default());
        let resp = Arc::new(Mutex::new(ScriptResp::Resp2));
        let pending: Arc<Mutex<Option<Vec<Function>>>> = Arc::new(Mutex::new(None));

        // Libraries Redis adds.
        globals.raw_set("cjson", crate::cjson::open(&lua)?)?;
        globals.raw_set("cmsgpack", crate::cmsgpack::open(&lua)?)?;
        globals.raw_set("bit", crate::bit::open(&lua)?)?;
        globals.raw_set("struct", crate::structlib::open(&lua)?)?;
        install_random(&lua, &globals)?;

        let host_fn = lua.create_function(|lua, args: MultiValue| {
            let f: LuaFunction = lua.named_registry_value("mr.host")?;
            f.call::<MultiValue>(args)
        })?;
        let api: Table = lua
            .load(PRELUDE)
            .set_name("=mr_prelude")
            .call(globals.clone())?;
        let readonly: LuaFunction = api.get("readonly")?;

        let redis = lua.create_table()?;
        install_redis(&lua, &redis, &resp, functions)?;
        // redis.call / redis.pcall: C functions (so that a `return redis.call(...)`
        // keeps the caller's frame for error positions, and an error is raised as
        // the table itself, as Redis does). The host answers (reply, failed).
        lua.set_named_registry_value(HOST_FN, host_fn)?;
        // SAFETY: both functions only use the Lua C API on the state they are given,
        // hold no Rust values across calls that may raise, and check the stack.
        let (call, pcall) = unsafe {
            (
                lua.create_c_function(redis_call_c)?,
                lua.create_c_function(redis_pcall_c)?,
            )
        };
        redis.raw_set("call", call)?;
        redis.raw_set("pcall", pcall)?;

        // Error handler (kept as a global, as Redis has it).
        let handler = lua.create_function(|lua, err: Value| error_table(lua, err))?;
        globals.raw_set("__redis__err__handler", handler)?;

        // Libraries and the redis table become read-only proxies.
        for lib in [
            "string",
            "math",
            "table",
            "coroutine",
            "cjson",
            "cmsgpack",
            "bit",
            "struct",
        ] {
            let real: Value = globals.raw_get(lib)?;
            let p: Value = readonly.call((real, false))?;
            globals.raw_set(lib, p)?;
        }
        // Strings' methods go through the read-only string library too.
        let string_lib: Value = globals.raw_get("string")?;
        let smt: Option<Table> = lua
            .load("return getmetatable('')")
            .set_name("=mr_prelude")
            .eval()?;
        if let Some(smt) = smt {
            smt.raw_set("__index", string_lib)?;
        }
        let redis_proxy: Table = readonly.call((redis.clone(), false))?;
        globals.raw_set("redis", redis_proxy)?;

        // _G for user code: a read-only view; the real table refuses new names and
        // reads of missing ones.
        let user_env: Table = readonly.call((globals.clone(), false))?;
        globals.raw_set("_G", user_env.clone())?;
        let gmt = lua.create_table()?;
        gmt.raw_set("__index", api.raw_get::<Value>("missing")?)?;
        gmt.raw_set("__newindex", api.raw_get::<Value>("refuse")?)?;
        gmt.raw_set("__metatable", false)?;
        globals.set_metatable(Some(gmt))?;

        // SCRIPT KILL / FUNCTION KILL.
        let ctl = control.clone();
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                if ctl.kill.load(Relaxed) {
                    return Err(rt(KILLED_MSG));
                }
                if ctl
                    .load_deadline
                    .lock()
                    .is_some_and(|d| std::time::Instant::now() > d)
                {
                    return Err(rt("ERR FUNCTION LOAD timeout"));
                }
                Ok(VmState::Continue)
            },
        )?;
        lua.gc_collect()?;
        Ok(Vm {
            lua,
            control,
            functions_vm: functions,
            scripts: HashMap::new(),
            user_env,
            globals,
            api,
            pending,
            resp,
        })
    }

    /// What SCRIPT KILL / FUNCTION KILL set to stop this VM's running script.
    pub fn control(&self) -> Arc<Control> {
        self.control.clone()
    }

    /// Bytes the Lua state holds (INFO's used_memory_lua / used_memory_vm_functions).
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// Whether the script `sha` is compiled here.
    pub fn has_script(&self, sha: &str) -> bool {
        self.scripts.contains_key(sha)
    }

    /// The flags of the compiled script `sha`.
    pub fn script_flags(&self, sha: &str) -> Option<ScriptFlags> {
        self.scripts.get(sha).map(|(_, f)| *f)
    }

    /// Compiles an EVAL script under its SHA1 (Lua code after the shebang line).
    pub fn compile_script(
        &mut self,
        sha: &str,
        code: &[u8],
        flags: ScriptFlags,
    ) -> Result<(), String> {
        if self.scripts.contains_key(sha) {
            return Ok(());
        }
        let f = self
            .lua
            .load(code)
            .set_name(EVAL_CHUNK)
            .set_mode(ChunkMode::Text)
            .set_environment(self.user_env.clone())
            .into_function()
            .map_err(|e| {
                format!(
                    "ERR Error compiling script (new function): {}",
                    error_message(&e)
                )
            })?;
        self.scripts.insert(sha.to_string(), (f, flags));
        Ok(())
    }

    /// Runs the compiled script `sha` with KEYS and ARGV; writes its reply (or its
    /// error) to `out`. Returns the error message when it failed.
    pub fn run_script(
        &mut self,
        sha: &str,
        keys: &[&[u8]],
        args: &[&[u8]],
        host: &mut dyn Host,
        out: &mut ReplyWriter,
    ) -> Result<(), RunError> {
        let Some((f, _)) = self.scripts.get(sha) else {
            return Err(RunError(
                "NOSCRIPT No matching script. Please use EVAL.".into(),
            ));
        };
        let f = f.clone();
        self.run(&f, sha, keys, args, true, host, out)
    }

    /// Runs a library function by its callback.
    pub fn run_function(
        &mut self,
        func: &Function,
        keys: &[&[u8]],
        args: &[&[u8]],
        host: &mut dyn Host,
        out: &mut ReplyWriter,
    ) -> Result<(), RunError> {
        let cb = func.callback.clone();
        let name = func.name.clone();
        self.run(&cb, &name, keys, args, false, host, out)
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        f: &LuaFunction,
        name: &str,
        keys: &[&[u8]],
        args: &[&[u8]],
        eval: bool,
        host: &mut dyn Host,
        out: &mut ReplyWriter,
    ) -> Result<(), RunError> {
        *self.resp.lock() = ScriptResp::Resp2;
        self.control.kill.store(false, Relaxed);
        let lua = &self.lua;
        let resp = self.resp.clone();
        let result: mlua::Result<Result<(), RunError>> = lua.scope(|scope| {
            let host_fn = scope.create_function_mut(|lua, argv: MultiValue| {
                host_call(lua, &mut *host, &resp, argv)
            })?;
            lua.set_named_registry_value("mr.host", host_fn)?;
            let mk = |items: &[&[u8]]| -> mlua::Result<Table> {
                let t = lua.create_table_with_capacity(items.len(), 0)?;
                for (i, it) in items.iter().enumerate() {
                    t.raw_set(i + 1, lua.create_string(it)?)?;
                }
                Ok(t)
            };
            let (k, a) = (mk(keys)?, mk(args)?);
            let call_args = if eval {
                self.globals.raw_set("KEYS", k)?;
                self.globals.raw_set("ARGV", a)?;
                MultiValue::new()
            } else {
                MultiValue::from_vec(vec![Value::Table(k), Value::Table(a)])
            };
            let runner: LuaFunction = self.api.raw_get("run")?;
            let handler: LuaFunction = self.globals.raw_get("__redis__err__handler")?;
            let mut all = vec![Value::Function(f.clone()), Value::Function(handler)];
            all.extend(call_args);
            let mut ret = runner
                .call::<MultiValue>(MultiValue::from_vec(all))?
                .into_iter();
            let ok = matches!(ret.next(), Some(Value::Boolean(true)));
            let v = ret.next().unwrap_or(Value::Nil);
            if ok {
                lua_to_reply(&v, out, *resp.lock());
                Ok(Ok(()))
            } else {
                Ok(Err(RunError(final_error(&v, name))))
            }
        });
        let _ = self.lua.unset_named_registry_value("mr.host");
        if eval {
            let _ = self.globals.raw_set("KEYS", Value::Nil);
            let _ = self.globals.raw_set("ARGV", Value::Nil);
        }
        self.control.kill.store(false, Relaxed);
        // Garbage of one script is not left for the next one to pay for.
        let _ = self.lua.gc_step_kbytes(64);
        match result {
            Ok(r) => r,
            Err(e) => Err(RunError(format!("ERR {}", error_message(&e)))),
        }
    }

    /// Loads a library (FUNCTION LOAD): runs its code with only
    /// `redis.register_function` and `redis.log` at hand and returns what it
    /// registered. `code_at`: where the Lua code starts (after the metadata line).
    pub fn load_library(
        &mut self,
        name: &str,
        code: &[u8],
        code_at: usize,
        host: &mut dyn Host,
    ) -> Result<Library, LoadError> {
        let err = |m: String| LoadError(m);
        let lua = &self.lua;
        let api = &self.api;
        // The library's environment: its own table, read-only, whose lookups go to
        // the loading API now and to the real globals once loaded.
        let build = || -> mlua::Result<(Table, Table, Table)> {
            let env = lua.create_table()?;
            let meta = lua.create_table()?;
            let load_globals = lua.create_table()?;
            let load_redis = lua.create_table()?;
            let redis_real: Table = self.globals.raw_get("redis")?;
            let backing: Table = api.raw_get("backing")?;
            let real: Table = backing.raw_get(redis_real)?;
            for k in [
                "register_function",
                "log",
                "LOG_DEBUG",
                "LOG_VERBOSE",
                "LOG_NOTICE",
                "LOG_WARNING",
                "REDIS_VERSION",
                "REDIS_VERSION_NUM",
            ] {
                load_redis.raw_set(k, real.raw_get::<Value>(k)?)?;
            }
            let strict = lua.create_table()?;
            strict.raw_set("__index", api.raw_get::<Value>("missing")?)?;
            strict.raw_set("__newindex", api.raw_get::<Value>("refuse")?)?;
            strict.raw_set("__metatable", false)?;
            load_redis.set_metatable(Some(strict.clone()))?;
            load_globals.raw_set("redis", load_redis)?;
            load_globals.set_metatable(Some(strict))?;
            meta.raw_set("__index", load_globals)?;
            meta.raw_set("__newindex", api.raw_get::<Value>("refuse")?)?;
            meta.raw_set("__metatable", false)?;
            env.set_metatable(Some(meta.clone()))?;
            let locked: Table = api.raw_get("locked")?;
            locked.raw_set(env.clone(), true)?;
            Ok((env, meta, self.globals.clone()))
        };
        let (env, meta, globals) =
            build().map_err(|e| err(format!("ERR {}", error_message(&e))))?;
        let chunk = lua
            .load(&code[code_at..])
            .set_name(FUNCTION_CHUNK)
            .set_mode(ChunkMode::Text)
            .set_environment(env)
            .into_function()
            .map_err(|e| {
                err(format!(
                    "ERR Error compiling function: {}",
                    error_message(&e)
                ))
            })?;
        *self.pending.lock() = Some(Vec::new());
        *self.control.load_deadline.lock() = Some(std::time::Instant::now() + LOAD_TIMEOUT);
        let resp = self.resp.clone();
        let outcome: mlua::Result<(bool, Value)> = lua.scope(|scope| {
            let host_fn = scope.create_function_mut(|lua, argv: MultiValue| {
                host_call(lua, &mut *host, &resp, argv)
            })?;
            lua.set_named_registry_value("mr.host", host_fn)?;
            let xpcall: LuaFunction = globals.raw_get("xpcall")?;
            let handler: LuaFunction = globals.raw_get("__redis__err__handler")?;
            let mut ret = xpcall.call::<MultiValue>((chunk, handler))?.into_iter();
            let ok = matches!(ret.next(), Some(Value::Boolean(true)));
            Ok((ok, ret.next().unwrap_or(Value::Nil)))
        });
        let _ = self.lua.unset_named_registry_value("mr.host");
        *self.control.load_deadline.lock() = None;
        let registered = self.pending.lock().take().unwrap_or_default();
        let (ok, v) = outcome.map_err(|e| err(format!("ERR {}", error_message(&e))))?;
        if !ok {
            let msg = match &v {
                Value::Table(t) => t
                    .raw_get::<Option<String>>("err")
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| "ERR unknown error".into()),
                _ => "ERR unknown error".into(),
            };
            return Err(err(format!("ERR Error registering functions: {msg}")));
        }
        if registered.is_empty() {
            return Err(err("ERR No functions registered".into()));
        }
        // From now on the library's functions see the real globals.
        meta.raw_set("__index", globals)
            .map_err(|e| err(format!("ERR {}", error_message(&e))))?;
        Ok(Library {
            name: name.to_string(),
            code: code.to_vec(),
            functions: registered,
        })
    }
}

/// `redis.call` / `redis.pcall` → the host: (reply, failed).
fn host_call(
    lua: &Lua,
    host: &mut dyn Host,
    resp: &Mutex<ScriptResp>,
    argv: MultiValue,
) -> mlua::Result<(Value, bool)> {
    let fail = |lua: &Lua, msg: &str| -> mlua::Result<(Value, bool)> {
        let t = lua.create_table()?;
        t.raw_set("err", msg)?;
        Ok((Value::Table(t), true))
    };
    if argv.is_empty() {
        return fail(
            lua,
            "ERR Please specify at least one argument for this redis lib call",
        );
    }
    let mut args: Vec<Vec<u8>> = Vec::with_capacity(argv.len());
    for v in argv {
        match v {
            Value::String(s) => args.push(s.as_bytes().to_vec()),
            Value::Integer(_) | Value::Number(_) => match lua.coerce_string(v)? {
                Some(s) => args.push(s.as_bytes().to_vec()),
                None => {
                    return fail(
                        lua,
                        "ERR Lua redis lib command arguments must be strings or integers",
                    )
                }
            },
            _ => {
                return fail(
                    lua,
                    "ERR Lua redis lib command arguments must be strings or integers",
                )
            }
        }
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    let r = *resp.lock();
    let frame = host.call(&refs, r);
    let failed = matches!(frame, Frame::Error(_));
    Ok((frame_to_lua(lua, &frame, r)?, failed))
}

/// Redis's error handler: any error becomes a table {err=..., source=..., line=...}.
fn error_table(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let t = match err {
        Value::Table(t) => t,
        Value::Error(e) => {
            let t = lua.create_table()?;
            let msg = error_message(&e);
            let msg = if msg.starts_with("ERR ") || msg.contains(' ') && is_code(&msg) {
                msg
            } else {
                format!("ERR {msg}")
            };
            t.raw_set("err", msg)?;
            t
        }
        other => {
            let text = match &other {
                Value::Nil => "nil".to_string(),
                Value::Boolean(b) => b.to_string(),
                v => match lua.coerce_string(v.clone())? {
                    Some(s) => s.to_string_lossy(),
                    None => format!("{}: {:p}", v.type_name(), v.to_pointer()),
                },
            };
            let t = lua.create_table()?;
            t.raw_set("err", format!("ERR {text}"))?;
            t
        }
    };
    // Where: the innermost frame of user code.
    for level in 1..64 {
        let Some((what, source, line)) = lua.inspect_stack(level, |d| {
            let s = d.source();
            (
                s.what,
                s.source.map(|c| c.into_owned()).unwrap_or_default(),
                d.current_line().map(|l| l as i64).unwrap_or(-1),
            )
        }) else {
            break;
        };
        if what == "C" || source.starts_with("=mr_") {
            continue;
        }
        t.raw_set("source", source)?;
        t.raw_set("line", line)?;
        break;
    }
    Ok(t)
}

/// Whether `msg` starts with an upper-case error code (WRONGTYPE, NOSCRIPT, ...).
fn is_code(msg: &str) -> bool {
    let code = msg.split(' ').next().unwrap_or("");
    !code.is_empty() && code.bytes().all(|c| c.is_ascii_uppercase())
}

/// The reply of a script that failed: the error, and where.
fn final_error(v: &Value, name: &str) -> String {
    let Value::Table(t) = v else {
        return format!("ERR unknown error script: {name}");
    };
    let msg = t
        .raw_get::<Option<mlua::String>>("err")
        .ok()
        .flatten()
        .map(|s| s.to_string_lossy())
        .unwrap_or_else(|| "ERR unknown error".into());
    let msg = msg.trim_end_matches(['\r', '\n']).to_string();
    let source: Option<String> = t.raw_get("source").ok().flatten();
    let line: Option<i64> = t.raw_get("line").ok().flatten();
    match (source, line) {
        (Some(s), Some(l)) => format!("{msg} script: {name}, on {s}:{l}."),
        _ => format!("{msg} script: {name}"),
    }
}

/// The `redis` table's functions and constants.
fn install_redis(
    lua: &Lua,
    redis: &Table,
    resp: &Arc<Mutex<ScriptResp>>,
    functions_vm: bool,
) -> mlua::Result<()> {
    for (k, v) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.raw_set(k, v)?;
    }
    redis.raw_set("REDIS_VERSION", "7.0.15")?;
    redis.raw_set("REDIS_VERSION_NUM", 0x07000f)?;
    redis.raw_set(
        "sha1hex",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(rt("ERR wrong number of arguments"));
            }
            let bytes = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => n.to_string().into_bytes(),
                Value::Number(n) => crate::cjson::lua_number_text(*n).into_bytes(),
                _ => Vec::new(),
            };
            Ok(crate::sha1hex(&bytes))
        })?,
    )?;
    let err_reply = lua.create_function(|lua, args: MultiValue| {
        let t = lua.create_table()?;
        let (1, Some(Value::String(s))) = (args.len(), args.front()) else {
            t.raw_set("err", "ERR wrong number or type of arguments")?;
            return Ok(t);
        };
        let raw = s.as_bytes().to_vec();
        t.raw_set("err", lua.create_string(error_reply_text(&raw))?)?;
        Ok(t)
    })?;
    redis.raw_set("error_reply", err_reply)?;
    let status_reply = lua.create_function(|lua, args: MultiValue| {
        let t = lua.create_table()?;
        let (1, Some(Value::String(s))) = (args.len(), args.front()) else {
            t.raw_set("err", "ERR wrong number or type of arguments")?;
            return Ok(t);
        };
        t.raw_set("ok", s.clone())?;
        Ok(t)
    })?;
    redis.raw_set("status_reply", status_reply)?;
    let r = resp.clone();
    redis.raw_set(
        "setresp",
        lua.create_function(move |_, args: MultiValue| {
            if args.len() != 1 {
                return Err(rt("ERR redis.setresp() requires one argument."));
            }
            let v = match &args[0] {
                Value::Integer(n) => *n as f64,
                Value::Number(n) => *n,
                _ => 0.0,
            };
            *r.lock() = match v as i64 {
                2 => ScriptResp::Resp2,
                3 => ScriptResp::Resp3,
                _ => return Err(rt("ERR RESP version must be 2 or 3.")),
            };
            Ok(())
        })?,
    )?;
    redis.raw_set(
        "log",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() < 2 {
                return Err(rt("ERR redis.log() requires two arguments or more."));
            }
            let level = match &args[0] {
                Value::Integer(n) => *n,
                Value::Number(n) => *n as i64,
                _ => return Err(rt("ERR First argument must be a number (log level).")),
            };
            if !(0..=3).contains(&level) {
                return Err(rt("ERR Invalid debug level."));
            }
            let mut msg = Vec::new();
            for (i, v) in args.iter().skip(1).enumerate() {
                if i > 0 {
                    msg.push(b' ');
                }
                if let Some(s) = lua.coerce_string(v.clone())? {
                    msg.extend_from_slice(&s.as_bytes());
                }
            }
            let text = String::from_utf8_lossy(&msg);
            match level {
                0 | 1 => tracing::debug!(target: "script", "{text}"),
                2 => tracing::info!(target: "script", "{text}"),
                _ => tracing::warn!(target: "script", "{text}"),
            }
            Ok(())
        })?,
    )?;
    redis.raw_set(
        "set_repl",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(rt("ERR redis.set_repl() requires one argument."));
            }
            let v = match &args[0] {
                Value::Integer(n) => *n,
                Value::Number(n) => *n as i64,
                _ => -1,
            };
            if !(0..=3).contains(&v) {
                return Err(rt(
                    "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ));
            }
            Ok(())
        })?,
    )?;
    redis.raw_set(
        "replicate_commands",
        lua.create_function(|_, _: MultiValue| Ok(true))?,
    )?;
    redis.raw_set(
        "breakpoint",
        lua.create_function(|_, _: MultiValue| Ok(false))?,
    )?;
    redis.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    redis.raw_set(
        "acl_check_cmd",
        lua.create_function(|_, args: MultiValue| {
            if args.is_empty() {
                return Err(rt(
                    "ERR Please specify at least one argument for this redis lib call",
                ));
            }
            Ok(true)
        })?,
    )?;
    if functions_vm {
        redis.raw_set(
            "register_function",
            lua.create_function(|lua, args: MultiValue| register_function(lua, args))?,
        )?;
    }
    Ok(())
}

/// `redis.error_reply`'s message: a leading '-' is dropped; then the first word is
/// the code if there is a space, otherwise ERR is put in front.
fn error_reply_text(raw: &[u8]) -> Vec<u8> {
    let body = raw.strip_prefix(b"-").unwrap_or(raw);
    let mut out = Vec::with_capacity(body.len() + 4);
    if raw.first() == Some(&b'-') && body.contains(&b' ') {
        out.extend_from_slice(body);
    } else if raw.first() != Some(&b'-') && raw.contains(&b' ') {
        // error_reply puts the '-' itself: same rule.
        out.extend_from_slice(body);
    } else {
        out.extend_from_slice(b"ERR ");
        out.extend_from_slice(body);
    }
    while matches!(out.last(), Some(b'\r' | b'\n')) {
        out.pop();
    }
    out
}

/// `redis.register_function(name, callback)` or `redis.register_function{...}`.
fn register_function(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    let (name, callback, flags, description) = match args.len() {
        1 => {
            let Value::Table(t) = &args[0] else {
                return Err(rt(
                    "ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
                ));
            };
            let mut name = None;
            let mut cb = None;
            let mut flags = ScriptFlags(0);
            let mut desc = None;
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let Value::String(k) = k else {
                    return Err(rt(
                        "ERR named argument key given to redis.register_function is not a string",
                    ));
                };
                match k.as_bytes().as_ref() {
                    b"function_name" => match v {
                        Value::String(s) => name = Some(s.as_bytes().to_vec()),
                        _ => return Err(rt("ERR function_name argument given to redis.register_function must be a string")),
                    },
                    b"description" => match v {
                        Value::String(s) => desc = Some(s.to_string_lossy()),
                        _ => return Err(rt("ERR description argument given to redis.register_function must be a string")),
                    },
                    b"callback" => match v {
                        Value::Function(f) => cb = Some(f),
                        _ => return Err(rt("ERR callback argument given to redis.register_function must be a function")),
                    },
                    b"flags" => match v {
                        Value::Table(ft) => flags = parse_flags(&ft)?,
                        _ => return Err(rt("ERR flags argument to redis.register_function must be a table representing function flags")),
                    },
                    _ => return Err(rt("ERR unknown argument given to redis.register_function")),
                }
            }
            let Some(name) = name else {
                return Err(rt(
                    "ERR redis.register_function must get a function name argument",
                ));
            };
            let Some(cb) = cb else {
                return Err(rt(
                    "ERR redis.register_function must get a callback argument",
                ));
            };
            (name, cb, flags, desc)
        }
        2 => {
            let name = match lua.coerce_string(args[0].clone())? {
                Some(s) => s.as_bytes().to_vec(),
                None => {
                    return Err(rt(
                        "ERR first argument to redis.register_function must be a string",
                    ))
                }
            };
            let Value::Function(cb) = &args[1] else {
                return Err(rt(
                    "ERR second argument to redis.register_function must be a function",
                ));
            };
            (name, cb.clone(), ScriptFlags(0), None)
        }
        _ => {
            return Err(rt(
                "ERR wrong number of arguments to redis.register_function",
            ))
        }
    };
    if !valid_name(&name) {
        // Redis 7.0 words this error as for library names.
        return Err(rt(format!("ERR {}", crate::shebang::LIBRARY_NAME_RULE)));
    }
    let name = String::from_utf8_lossy(&name).into_owned();
    let pending: Option<Arc<Mutex<Option<Vec<Function>>>>> = lua
        .app_data_ref::<Arc<Mutex<Option<Vec<Function>>>>>()
        .map(|p| p.clone());
    let Some(pending) = pending else {
        return Err(rt(
            "ERR redis.register_function can only be called on FUNCTION LOAD command",
        ));
    };
    let mut guard = pending.lock();
    let Some(list) = guard.as_mut() else {
        return Err(rt(
            "ERR redis.register_function can only be called on FUNCTION LOAD command",
        ));
    };
    if list.iter().any(|f| f.name == name) {
        return Err(rt("ERR Function already exists in the library"));
    }
    list.push(Function {
        name,
        description,
        flags,
        callback,
    });
    Ok(())
}

fn parse_flags(t: &Table) -> mlua::Result<ScriptFlags> {
    let mut flags = 0u8;
    for v in t.sequence_values::<Value>() {
        let v = v?;
        let Value::String(s) = v else {
            return Err(rt("ERR unknown flag given"));
        };
        match flag_by_name(&s.as_bytes()) {
            Some(f) => flags |= f,
            None => return Err(rt("ERR unknown flag given")),
        }
    }
    Ok(ScriptFlags(flags))
}

/// `math.random` / `math.randomseed` on Redis's generator.
fn install_random(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let math: Table = globals.raw_get("math")?;
    let state = Arc::new(Mutex::new(Rand48::default()));
    let s = state.clone();
    math.raw_set(
        "random",
        lua.create_function(move |lua, args: MultiValue| {
            let r = s.lock().unit();
            let num = |v: &Value| -> mlua::Result<f64> {
                match lua.coerce_number(v.clone())? {
                    Some(n) => Ok(n),
                    None => Err(rt("bad argument to 'random' (number expected)")),
                }
            };
            match args.len() {
                0 => Ok(r),
                1 => {
                    let u = num(&args[0])?.floor();
                    if u < 1.0 {
                        return Err(rt("bad argument #1 to 'random' (interval is empty)"));
                    }
                    Ok((r * u).floor() + 1.0)
                }
                2 => {
                    let l = num(&args[0])?.floor();
                    let u = num(&args[1])?.floor();
                    if l > u {
                        return Err(rt("bad argument #2 to 'random' (interval is empty)"));
                    }
                    Ok((r * (u - l + 1.0)).floor() + l)
                }
                _ => Err(rt("wrong number of arguments")),
            }
        })?,
    )?;
    let s = state;
    math.raw_set(
        "randomseed",
        lua.create_function(move |lua, args: MultiValue| {
            let seed = match args.front() {
                Some(v) => lua.coerce_number(v.clone())?.unwrap_or(0.0),
                None => 0.0,
            };
            s.lock().seed(seed as i64 as i32);
            Ok(())
        })?,
    )?;
    Ok(())
}

impl Vm {
    /// Makes the VM ready for FUNCTION LOAD's `register_function` (app data).
    fn attach_pending(&self) {
        self.lua.set_app_data(self.pending.clone());
    }

    /// A new FUNCTION VM, ready to load libraries.
    pub fn new_functions() -> mlua::Result<Vm> {
        let vm = Vm::new(true)?;
        vm.attach_pending();
        Ok(vm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// A host that answers a few commands from a map.
    #[derive(Default)]
    struct Fake {
        kv: HashMap<Vec<u8>, Vec<u8>>,
        calls: Vec<String>,
    }

    impl Host for Fake {
        fn call(&mut self, argv: &[&[u8]], _resp: ScriptResp) -> Frame {
            self.calls
                .push(String::from_utf8_lossy(&argv.join(&b' ')).into_owned());
            match argv[0].to_ascii_lowercase().as_slice() {
                b"set" if argv.len() == 3 => {
                    self.kv.insert(argv[1].to_vec(), argv[2].to_vec());
                    Frame::Simple(Bytes::from_static(b"OK"))
                }
                b"get" if argv.len() == 2 => match self.kv.get(argv[1]) {
                    Some(v) => Frame::Bulk(Bytes::from(v.clone())),
                    None => Frame::NullBulk,
                },
                b"incr" => Frame::Error(Bytes::from_static(
                    b"ERR value is not an integer or out of range",
                )),
                _ => Frame::Error(Bytes::from_static(
                    b"ERR Unknown Redis command called from script",
                )),
            }
        }
    }

    fn eval(vm: &mut Vm, host: &mut Fake, code: &str, keys: &[&str], args: &[&str]) -> String {
        let sha = crate::sha1hex(code.as_bytes());
        let (flags, at) = match crate::shebang::eval_flags(code.as_bytes()) {
            Ok(x) => x,
            Err(e) => return format!("-{e}"),
        };
        if let Err(e) = vm.compile_script(&sha, &code.as_bytes()[at..], flags) {
            return format!("-{e}");
        }
        let k: Vec<&[u8]> = keys.iter().map(|s| s.as_bytes()).collect();
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        let mut out = ReplyWriter::new(resp::Protocol::Resp2);
        match vm.run_script(&sha, &k, &a, host, &mut out) {
            Ok(()) => String::from_utf8_lossy(out.as_bytes()).into_owned(),
            Err(RunError(e)) => format!("-{}", e.replace(&sha, "<sha>")),
        }
    }

    #[test]
    fn scripts_run_with_redis_semantics() {
        let mut vm = Vm::new(false).unwrap();
        let mut h = Fake::default();
        let mut e = |code: &str| eval(&mut vm, &mut h, code, &["k"], &["v"]);
        assert_eq!(e("return redis.call('set', KEYS[1], ARGV[1])"), "+OK\r\n");
        assert_eq!(e("return redis.call('get', KEYS[1])"), "$1\r\nv\r\n");
        assert_eq!(e("return redis.call('get', 'nokey')"), "$-1\r\n");
        assert_eq!(
            e("return type(redis.call('get', 'nokey'))"),
            "$7\r\nboolean\r\n"
        );
        assert_eq!(
            e("return redis.call('incr', 'k')"),
            "-ERR value is not an integer or out of range script: <sha>, on @user_script:1."
        );
        assert_eq!(
            e("return redis.pcall('incr', 'k')"),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            e("local ok, err = pcall(redis.call, 'incr', 'k'); return err"),
            "$43\r\nERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            e("x = 1"),
            "-ERR user_script:1: Attempt to modify a readonly table script: <sha>, on @user_script:1."
        );
        assert_eq!(
            e("return y"),
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'y' script: <sha>, on @user_script:1."
        );
        assert_eq!(
            e("rawset(_G, 'x', 1)"),
            "-ERR Attempt to modify a readonly table script: <sha>, on @user_script:1."
        );
        assert_eq!(
            e("_G.x = 1"),
            "-ERR user_script:1: Attempt to modify a readonly table script: <sha>, on @user_script:1."
        );
        assert_eq!(
            e("redis.call = nil"),
            "-ERR user_script:1: Attempt to modify a readonly table script: <sha>, on @user_script:1."
        );
        assert_eq!(
            e("string.foo = 1"),
            "-ERR user_script:1: Attempt to modify a readonly table script: <sha>, on @user_script:1."
        );
        assert_eq!(e("return ('abc'):upper()"), "$3\r\nABC\r\n");
        assert_eq!(
            e("error('boom')"),
            "-ERR user_script:1: boom script: <sha>, on @user_script:1."
        );
        assert_eq!(e("error()"), "-ERR nil script: <sha>, on @user_script:1.");
        assert_eq!(
            e("error({err='TABLEERR x'})"),
            "-TABLEERR x script: <sha>, on @user_script:1."
        );
        assert_eq!(
            e("return redis.call()"),
            "-ERR Please specify at least one argument for this redis lib call script: <sha>, on @user_script:1."
        );
        assert_eq!(
            e("return redis.call('get', {})"),
            "-ERR Lua redis lib command arguments must be strings or integers script: <sha>, on @user_script:1."
        );
        assert_eq!(
            e("return redis.sha1hex()"),
            "-ERR wrong number of arguments script: <sha>, on @user_script:1."
        );
        assert_eq!(e("return redis.error_reply('bad')"), "-ERR bad\r\n");
        assert_eq!(e("return redis.error_reply('MY bad')"), "-MY bad\r\n");
        assert_eq!(e("return redis.error_reply('-bad')"), "-ERR bad\r\n");
        assert_eq!(e("return redis.status_reply('FINE')"), "+FINE\r\n");
        assert_eq!(
            e("redis.setresp(4)"),
            "-ERR RESP version must be 2 or 3. script: <sha>, on @user_script:1."
        );
        assert_eq!(
            e("return 1 +"),
            "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"
        );
        assert_eq!(
            e("#!lua\nreturn 1 +"),
            "-ERR Error compiling script (new function): user_script:2: unexpected symbol near '<eof>'"
        );
        assert_eq!(e("return _VERSION"), "$7\r\nLua 5.1\r\n");
        assert_eq!(e("return redis.call('set', 'x', 3.0)"), "+OK\r\n");
        assert_eq!(e("return redis.call('get', 'x')"), "$1\r\n3\r\n");
        assert_eq!(e("return redis.call('set', 'x', 1e20)"), "+OK\r\n");
        assert_eq!(e("return redis.call('get', 'x')"), "$5\r\n1e+20\r\n");
        assert_eq!(
            e("local t = {} for k in pairs(_G) do t[#t+1] = k end table.sort(t) return table.concat(t, ' ')"),
            "$271\r\nARGV KEYS _G _VERSION __redis__err__handler assert bit cjson cmsgpack collectgarbage coroutine error gcinfo getmetatable ipairs load loadstring math next pairs pcall rawequal rawget rawset redis select setmetatable string struct table tonumber tostring type unpack xpcall\r\n"
        );
        assert_eq!(
            e("return print"),
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'print' script: <sha>, on @user_script:1."
        );
        assert_eq!(
            e("return loadstring('x = 5')()"),
            "-ERR [string \"x = 5\"]:1: Attempt to modify a readonly table script: <sha>, on x = 5:1."
        );
    }

    /// The first numbers of a fresh redis-server 7.0's math.random.
    #[test]
    fn random_is_redis_sequence() {
        let mut vm = Vm::new(false).unwrap();
        let mut h = Fake::default();
        assert_eq!(
            eval(
                &mut vm,
                &mut h,
                "return {tostring(math.random()), math.random(100), math.random(5,10), tostring(math.random())}",
                &[],
                &[]
            ),
            "*4\r\n$16\r\n0.39646477363839\r\n:85\r\n:7\r\n$16\r\n0.44658343468168\r\n"
        );
    }

    #[test]
    fn libraries_load_and_register() {
        let mut vm = Vm::new_functions().unwrap();
        let mut h = Fake::default();
        let code = b"#!lua name=mylib\nredis.register_function('f1', function(keys, args) return keys[1] end)\nredis.register_function{function_name='f2', callback=function(keys, args) return redis.call('set', keys[1], args[1]) end, flags={'no-writes'}, description='desc'}";
        let lib = vm.load_library("mylib", code, 16, &mut h).unwrap();
        assert_eq!(lib.functions.len(), 2);
        assert_eq!(lib.functions[1].description.as_deref(), Some("desc"));
        assert!(lib.functions[1].flags.has(ScriptFlags::NO_WRITES));
        let mut out = ReplyWriter::new(resp::Protocol::Resp2);
        vm.run_function(&lib.functions[0], &[b"kk"], &[], &mut h, &mut out)
            .unwrap();
        assert_eq!(out.as_bytes(), b"$2\r\nkk\r\n");
        let mut out = ReplyWriter::new(resp::Protocol::Resp2);
        vm.run_function(&lib.functions[1], &[b"a"], &[b"b"], &mut h, &mut out)
            .unwrap();
        assert_eq!(out.as_bytes(), b"+OK\r\n");
        let err = |vm: &mut Vm, h: &mut Fake, body: &str| {
            let code = format!("#!lua name=x\n{body}");
            vm.load_library("x", code.as_bytes(), 12, h).unwrap_err().0
        };
        assert_eq!(
            err(&mut vm, &mut h, "return 1"),
            "ERR No functions registered"
        );
        assert_eq!(
            err(&mut vm, &mut h, "redis.call('ping')"),
            "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"
        );
        assert_eq!(
            err(&mut vm, &mut h, "x = 1"),
            "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table"
        );
        assert_eq!(
            err(&mut vm, &mut h, "local a = 1 +"),
            "ERR Error compiling function: user_function:2: unexpected symbol near '<eof>'"
        );
        assert_eq!(
            err(&mut vm, &mut h, "redis.register_function('ok', 'notfn')"),
            "ERR Error registering functions: ERR second argument to redis.register_function must be a function"
        );
        assert_eq!(
            err(&mut vm, &mut h, "redis.register_function{function_name='ok', callback=function() end, flags={'bad'}}"),
            "ERR Error registering functions: ERR unknown flag given"
        );
        assert_eq!(
            err(&mut vm, &mut h, "local x = pairs"),
            "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'pairs'"
        );
        let code =
            b"#!lua name=e\nredis.register_function('e2', function(keys, args) error('boom') end)";
        let lib = vm.load_library("e", code, 12, &mut h).unwrap();
        let mut out = ReplyWriter::new(resp::Protocol::Resp2);
        let e = vm
            .run_function(&lib.functions[0], &[], &[], &mut h, &mut out)
            .unwrap_err();
        assert_eq!(
            e.0,
            "ERR user_function:2: boom script: e2, on @user_function:2."
        );
    }

    /// What one idle VM costs (a platform holds many databases; VMs are made on
    /// first use only).
    #[test]
    fn an_idle_vm_is_small() {
        let vm = Vm::new(false).unwrap();
        let bytes = vm.used_memory();
        println!("one EVAL VM: {bytes} bytes of Lua heap");
        assert!(bytes < 256 * 1024, "{bytes}");
    }

    #[test]
    fn a_killed_script_stops() {
        let mut vm = Vm::new(false).unwrap();
        let ctl = vm.control();
        let mut h = Fake::default();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            ctl.kill.store(true, Relaxed);
        });
        let r = eval(&mut vm, &mut h, "while true do end", &[], &[]);
        t.join().unwrap();
        assert_eq!(
            r,
            "-ERR Script killed by user with SCRIPT KILL... script: <sha>, on @user_script:1."
        );
        // The VM serves the next script.
        assert_eq!(eval(&mut vm, &mut h, "return 1", &[], &[]), ":1\r\n");
    }
}

#[cfg(test)]
mod footprint {
    /// Resident memory of 200 idle VMs (run with --ignored --nocapture): what one VM
    /// costs the process, Lua heap and mlua's own state together.
    #[test]
    #[ignore]
    fn resident_cost_of_idle_vms() {
        fn rss() -> u64 {
            std::fs::read_to_string("/proc/self/statm")
                .ok()
                .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
                .unwrap_or(0)
                * 4096
        }
        let before = rss();
        let vms: Vec<super::Vm> = (0..200).map(|_| super::Vm::new(false).unwrap()).collect();
        let after = rss();
        let heap: usize = vms.iter().map(|v| v.used_memory()).sum();
        println!(
            "200 VMs: {} KB resident ({} KB each), Lua heap {} KB each",
            (after - before) / 1024,
            (after - before) / 1024 / 200,
            heap / 1024 / 200
        );
    }
}
