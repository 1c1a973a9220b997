//! An instance's scripting state: EVAL's script cache and Lua VM, FUNCTION's
//! libraries and their VM (each created on first use: a platform holds many idle
//! databases), and the script running now (BUSY replies, SCRIPT KILL).
//!
//! A script runs inside its command's handler, which dispatch calls with every shard
//! locked (EVAL, FCALL and friends are ALL_SHARDS commands): each `redis.call` runs
//! through [`dispatch::run`](crate::dispatch::run) under those locks, so the script is
//! atomic, and blocked clients are served after it, as after any command. While it
//! runs, other clients' commands wait in dispatch, and get BUSY once it has run longer
//! than `busy-reply-threshold`; SCRIPT KILL / FUNCTION KILL set the VM's kill flag,
//! which an instruction-count hook checks, unless the script has written.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use engine::Locked;
use parking_lot::Mutex;
use resp::{Frame, Protocol, ReplyWriter};
use scripting::{Control, Host, Library, ScriptFlags, ScriptResp, Vm};

use crate::client::Client;
use crate::errors;
use crate::instance::Instance;
use crate::registry::registry;
use crate::spec::flags;

/// EVAL's state: the VM and the bodies of the scripts it compiled.
#[derive(Debug)]
pub struct EvalState {
    pub vm: Vm,
    pub bodies: HashMap<String, Vec<u8>>,
}

/// FUNCTION's state.
#[derive(Debug, Default)]
pub struct FunctionsState {
    pub vm: Option<Vm>,
    /// Libraries by name (FUNCTION LIST orders by name).
    pub libs: BTreeMap<String, Library>,
    /// Function name → its library.
    pub index: HashMap<String, String>,
}

impl FunctionsState {
    /// The VM, created on first use.
    pub fn vm(&mut self) -> Result<&mut Vm, String> {
        if self.vm.is_none() {
            self.vm = Some(Vm::new_functions().map_err(|e| format!("ERR {e}"))?);
        }
        self.vm.as_mut().ok_or_else(|| "ERR no Lua VM".to_string())
    }
}

/// The script running now.
#[derive(Debug)]
pub struct Running {
    pub started: Instant,
    pub function: bool,
    /// The script's name (SHA1 or function name) and the command that runs it.
    pub name: String,
    pub command: Vec<Vec<u8>>,
    pub wrote: AtomicBool,
    pub control: Arc<Control>,
}

/// INFO memory's scripting figures (bytes and counts).
#[derive(Debug, Default, Clone, Copy)]
pub struct ScriptsInfo {
    pub vm_eval: u64,
    pub scripts_eval: u64,
    pub cached_scripts: u64,
    pub functions: u64,
    pub libraries: u64,
    pub vm_functions: u64,
    pub functions_mem: u64,
}

/// Per-instance scripting state.
#[derive(Debug, Default)]
pub struct Scripts {
    pub eval: Mutex<Option<EvalState>>,
    pub functions: Mutex<FunctionsState>,
    running: Mutex<Option<Arc<Running>>>,
    /// Whether a script runs now: the only cost other commands pay when none does.
    busy: AtomicBool,
}

/// How long a command waits in dispatch between two looks at a running script.
const BUSY_POLL: std::time::Duration = std::time::Duration::from_millis(1);

impl Scripts {
    /// The script running now, if any.
    pub fn running(&self) -> Option<Arc<Running>> {
        if !self.busy.load(Relaxed) {
            return None;
        }
        self.running.lock().clone()
    }

    fn start(&self, r: Arc<Running>) {
        *self.running.lock() = Some(r);
        self.busy.store(true, Relaxed);
    }

    fn stop(&self) {
        self.busy.store(false, Relaxed);
        *self.running.lock() = None;
    }

    /// INFO memory's scripting figures. Counts what is not in use by a running
    /// script (INFO answers BUSY then anyway).
    pub fn info(&self) -> ScriptsInfo {
        let mut i = ScriptsInfo::default();
        if let Some(g) = self.eval.try_lock() {
            if let Some(s) = g.as_ref() {
                i.vm_eval = s.vm.used_memory() as u64;
                i.cached_scripts = s.bodies.len() as u64;
                i.scripts_eval = s
                    .bodies
                    .iter()
                    .map(|(k, v)| (k.len() + v.len()) as u64)
                    .sum();
            }
        }
        if let Some(f) = self.functions.try_lock() {
            i.vm_functions = f.vm.as_ref().map_or(0, |v| v.used_memory() as u64);
            i.libraries = f.libs.len() as u64;
            i.functions = f.index.len() as u64;
            i.functions_mem = f
                .libs
                .values()
                .map(|l| (l.name.len() + l.code.len()) as u64)
                .sum();
        }
        i
    }

    /// Bytes EVAL's VM holds (0 before first use).
    pub fn eval_memory(&self) -> usize {
        self.eval
            .try_lock()
            .and_then(|g| g.as_ref().map(|s| s.vm.used_memory()))
            .unwrap_or(0)
    }

    /// Bytes FUNCTION's VM holds (0 before first use).
    pub fn functions_memory(&self) -> usize {
        self.functions
            .try_lock()
            .and_then(|g| g.vm.as_ref().map(|v| v.used_memory()))
            .unwrap_or(0)
    }
}

/// Called by dispatch before a command takes its locks: while a script runs, waits
/// for it, or answers BUSY once it has run past `busy-reply-threshold`. Commands
/// flagged `allow-busy` (SCRIPT KILL, FUNCTION KILL, ...) go ahead.
pub fn busy_check(inst: &Instance, allow_busy: bool) -> Option<&'static str> {
    if allow_busy || !inst.scripts.busy.load(Relaxed) {
        return None;
    }
    let threshold = inst.config.read().busy_reply_threshold;
    loop {
        let r = inst.scripts.running()?;
        if r.started.elapsed().as_millis() as u64 >= threshold {
            return Some(if r.function {
                errors::BUSY_FUNCTION
            } else {
                errors::BUSY_SCRIPT
            });
        }
        std::thread::sleep(BUSY_POLL);
    }
}

impl Scripts {
    /// Stops the running script whatever it did (the server is shutting down).
    pub fn force_kill(&self) {
        if let Some(r) = self.running() {
            r.control.kill.store(true, Relaxed);
        }
    }
}

/// SCRIPT KILL / FUNCTION KILL.
pub fn kill(inst: &Instance, function: bool) -> Result<(), &'static str> {
    let Some(r) = inst.scripts.running() else {
        return Err(errors::NOTBUSY);
    };
    // The other kind's KILL is refused as any command is while a script is busy.
    if r.function != function {
        return Err(if r.function {
            errors::BUSY_FUNCTION
        } else {
            errors::BUSY_SCRIPT
        });
    }
    if r.wrote.load(Relaxed) {
        return Err(errors::UNKILLABLE);
    }
    r.control.kill.store(true, Relaxed);
    Ok(())
}

/// Runs commands for `redis.call` under the script's locks.
struct ScriptHost<'a, 'k> {
    inst: &'a Instance,
    client: &'a mut Client,
    locked: &'a mut Locked<'k>,
    flags: ScriptFlags,
    /// Called through a `*_RO` command.
    read_only_cmd: bool,
    running: Arc<Running>,
    /// Each call's reply is written here, then parsed (one buffer for the script).
    out: ReplyWriter,
}

impl Host for ScriptHost<'_, '_> {
    fn call(&mut self, argv: &[&[u8]], resp: ScriptResp) -> Frame {
        let err = |m: &str| Frame::Error(bytes::Bytes::copy_from_slice(m.as_bytes()));
        let reg = registry();
        let Some(mut id) = reg.lookup(argv[0]) else {
            return err(errors::SCRIPT_UNKNOWN_COMMAND);
        };
        let spec = reg.spec(id);
        if spec.handler.is_none() || (argv.len() >= 2 && !reg.subcommands(id).is_empty()) {
            if argv.len() < 2 {
                return err(errors::SCRIPT_WRONG_ARITY);
            }
            match reg.lookup_sub(id, argv[1]) {
                Some(sub) => id = sub,
                None if spec.handler.is_some() => {}
                None => return err(errors::SCRIPT_UNKNOWN_COMMAND),
            }
        }
        let spec = reg.spec(id);
        if !spec.arity_ok(argv.len()) {
            return err(errors::SCRIPT_WRONG_ARITY);
        }
        if spec.has(flags::NOSCRIPT) {
            return err(errors::SCRIPT_NOT_ALLOWED);
        }
        if spec.handler.is_none() {
            return err(errors::SCRIPT_UNKNOWN_COMMAND);
        }
        let write = spec.has(flags::WRITE);
        if write
            && (self.flags.has(ScriptFlags::NO_WRITES)
                || (self.read_only_cmd && self.flags.has(ScriptFlags::EVAL_COMPAT)))
        {
            return err(errors::SCRIPT_WRITE_IN_READ_ONLY);
        }
        if write && self.inst.writes_refused.load(Relaxed) {
            return err(errors::MISCONF);
        }
        if spec.has(flags::DENYOOM) && !self.flags.has(ScriptFlags::ALLOW_OOM) {
            let max = self.inst.limits.maxmemory();
            // No eviction here: the script holds every shard.
            if max != 0
                && self.inst.used_memory_for_limit() > max
                && !self.running.wrote.load(Relaxed)
            {
                return err(errors::OOM);
            }
        }
        let proto = match resp {
            ScriptResp::Resp2 => Protocol::Resp2,
            ScriptResp::Resp3 => Protocol::Resp3,
        };
        let out = &mut self.out;
        out.clear();
        out.set_protocol(proto);
        self.client.last_command_failed = false;
        let started = Instant::now();
        crate::dispatch::run(self.inst, self.client, out, self.locked, spec, argv);
        let failed = self.client.last_command_failed;
        crate::dispatch::record(self.client, id, started.elapsed().as_micros() as u64, false);
        if write && !failed {
            self.client.dirty += 1;
            self.running.wrote.store(true, Relaxed);
        }
        match resp::frame::parse(out.as_bytes()) {
            Ok(Some((f, _))) => f,
            _ => Frame::NullBulk,
        }
    }
}

/// What to run.
pub enum Target<'s> {
    /// An EVAL script, compiled under this SHA1.
    Script(&'s str),
    /// A library function: (library, function index).
    Function(String, usize),
}

/// Runs a script or function with the command's locks (`locked`: every shard).
/// Writes the reply (or the error) to `out`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    inst: &Instance,
    client: &mut Client,
    out: &mut ReplyWriter,
    locked: &mut Locked<'_>,
    target: Target<'_>,
    flags: ScriptFlags,
    read_only_cmd: bool,
    keys: &[&[u8]],
    args: &[&[u8]],
    argv: &[&[u8]],
) {
    let db = client.db;
    let no_block = std::mem::replace(&mut client.no_block, true);
    let result = match target {
        Target::Script(sha) => {
            let mut guard = inst.scripts.eval.lock();
            let Some(state) = guard.as_mut() else {
                client.no_block = no_block;
                fail(inst, client, out, errors::NOSCRIPT);
                return;
            };
            let running = Arc::new(Running {
                started: Instant::now(),
                function: false,
                name: sha.to_string(),
                command: argv.iter().map(|a| a.to_vec()).collect(),
                wrote: AtomicBool::new(false),
                control: state.vm.control(),
            });
            inst.scripts.start(running.clone());
            let mut host = ScriptHost {
                inst,
                client: &mut *client,
                locked,
                flags,
                read_only_cmd,
                running,
                out: ReplyWriter::new(Protocol::Resp2),
            };
            let r = state.vm.run_script(sha, keys, args, &mut host, out);
            inst.scripts.stop();
            r
        }
        Target::Function(lib, idx) => {
            let mut guard = inst.scripts.functions.lock();
            let st = &mut *guard;
            let Some(func) = st
                .libs
                .get(&lib)
                .and_then(|l| l.functions.get(idx))
                .cloned()
            else {
                client.no_block = no_block;
                fail(inst, client, out, errors::FUNCTION_NOT_FOUND);
                return;
            };
            let vm = match st.vm() {
                Ok(vm) => vm,
                Err(e) => {
                    client.no_block = no_block;
                    fail(inst, client, out, &e);
                    return;
                }
            };
            let running = Arc::new(Running {
                started: Instant::now(),
                function: true,
                name: func.name.clone(),
                command: argv.iter().map(|a| a.to_vec()).collect(),
                wrote: AtomicBool::new(false),
                control: vm.control(),
            });
            inst.scripts.start(running.clone());
            let mut host = ScriptHost {
                inst,
                client: &mut *client,
                locked,
                flags,
                read_only_cmd,
                running,
                out: ReplyWriter::new(Protocol::Resp2),
            };
            let r = vm.run_function(&func, keys, args, &mut host, out);
            inst.scripts.stop();
            r
        }
    };
    client.no_block = no_block;
    // SELECT inside a script does not change the caller's database.
    client.select(db);
    client.last_command_failed = false;
    if let Err(e) = result {
        fail(inst, client, out, &e.0);
    }
}

fn fail(inst: &Instance, client: &mut Client, out: &mut ReplyWriter, msg: &str) {
    inst.stats.record_error(msg);
    client.last_command_failed = true;
    out.error(msg);
}
