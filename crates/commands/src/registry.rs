//! The command table at run time: specs from [`crate::table`] joined with the handlers
//! each family registers. A spec without a handler is not served (it reads as an
//! unknown command), so the table can describe commands before they are implemented.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

use crate::spec::{CommandSpec, Handler};

/// Shared per-command counters for INFO commandstats.
#[derive(Debug, Default)]
pub struct CmdStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub failed: AtomicU64,
    pub rejected: AtomicU64,
}

impl CmdStat {
    pub fn reset(&self) {
        self.calls.store(0, Relaxed);
        self.usec.store(0, Relaxed);
        self.failed.store(0, Relaxed);
        self.rejected.store(0, Relaxed);
    }
}

pub struct Registry {
    /// Every served command and subcommand; the index is the command id.
    pub specs: Vec<CommandSpec>,
    by_name: HashMap<&'static str, u32>,
    /// Container index -> its subcommands' indices.
    subs: HashMap<u32, Vec<u32>>,
}

impl Registry {
    fn build() -> Self {
        let handlers: HashMap<&'static str, Handler> =
            crate::families::handlers().into_iter().collect();
        let mut specs = Vec::new();
        for mut s in crate::table::specs() {
            match handlers.get(s.name) {
                Some(h) => s.handler = Some(*h),
                None => {
                    // Containers are served when at least one subcommand is.
                    let prefix = format!("{}|", s.name);
                    if !handlers.keys().any(|k| k.starts_with(&prefix)) {
                        continue;
                    }
                    s.handler = None;
                }
            }
            specs.push(s);
        }
        let by_name: HashMap<&'static str, u32> = specs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name, i as u32))
            .collect();
        let mut subs: HashMap<u32, Vec<u32>> = HashMap::new();
        for (i, s) in specs.iter().enumerate() {
            if let Some((parent, _)) = s.name.split_once('|') {
                if let Some(&p) = by_name.get(parent) {
                    subs.entry(p).or_default().push(i as u32);
                }
            }
        }
        Registry {
            specs,
            by_name,
            subs,
        }
    }

    /// Looks a command up by name, case-insensitively.
    pub fn lookup(&self, name: &[u8]) -> Option<u32> {
        if name.len() > 64 {
            return None;
        }
        let mut buf = [0u8; 64];
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        let s = std::str::from_utf8(lower).ok()?;
        self.by_name.get(s).copied()
    }

    /// Looks up `parent|sub`.
    pub fn lookup_sub(&self, parent: u32, sub: &[u8]) -> Option<u32> {
        let list = self.subs.get(&parent)?;
        let pname = self.specs[parent as usize].name;
        list.iter().copied().find(|&i| {
            let n = self.specs[i as usize].name;
            n.len() == pname.len() + 1 + sub.len()
                && n.as_bytes()[pname.len() + 1..].eq_ignore_ascii_case(sub)
        })
    }

    pub fn subcommands(&self, parent: u32) -> &[u32] {
        self.subs.get(&parent).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn spec(&self, id: u32) -> &CommandSpec {
        &self.specs[id as usize]
    }

    /// Top-level commands (not subcommands).
    pub fn top_level(&self) -> impl Iterator<Item = (u32, &CommandSpec)> {
        self.specs
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.name.contains('|'))
            .map(|(i, s)| (i as u32, s))
    }
}

/// The process-wide command table.
pub fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Registry::build)
}
