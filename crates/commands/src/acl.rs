//! Access control lists: the users of one instance, their compiled permissions and the
//! ACL log. Dispatch checks every command once ([`check`]): a client whose user may
//! run everything on every key and channel (the default user, unless restricted)
//! carries no permission object at all, so the check is one compare of an epoch and
//! one `None` test.
//!
//! Users are per instance: on the platform each tenant database has its own. A tenant
//! may create and restrict users inside its database, but the default user's
//! credentials (its passwords, `nopass`, `on`/`off`) are the operator's: they follow the
//! database's password, and `AUTH <database> <password>` through the front door always
//! lands on the default user.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::client::Client;
use crate::errors;
use crate::families::util::glob_match;
use crate::instance::Instance;
use crate::registry::registry;
use crate::spec::{acl as cat, BeginSearch, CommandSpec, FindKeys};

/// Key pattern permissions.
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    pub flags: u8,
    pub pattern: Vec<u8>,
}

/// One ACL user as ACL SETUSER builds it.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// SHA-256 hashes, lower-case hex, in the order they were added.
    pub passwords: Vec<String>,
    /// One bit per command id of the registry.
    allowed: Vec<u64>,
    /// Set by `+@all`/`allcommands`: commands added later are allowed too.
    all_commands: bool,
    /// First arguments allowed for a command that is otherwise not (`+select|0`).
    first_args: BTreeMap<u32, Vec<Vec<u8>>>,
    pub allkeys: bool,
    pub keys: Vec<KeyPattern>,
    pub allchannels: bool,
    pub channels: Vec<Vec<u8>>,
    /// `sanitize-payload` (Some(true), set by `reset`) or `skip-sanitize-payload`
    /// (Some(false)): how RESTORE payloads are checked; only reported.
    pub sanitize_payload: Option<bool>,
}

fn words() -> usize {
    registry().specs.len().div_ceil(64)
}

impl User {
    /// A new user: off, no passwords, no commands, no keys; channels as
    /// acl-pubsub-default says.
    pub fn new(name: &str, allchannels: bool) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            allowed: vec![0; words()],
            all_commands: false,
            first_args: BTreeMap::new(),
            allkeys: false,
            keys: Vec::new(),
            allchannels,
            channels: Vec::new(),
            sanitize_payload: None,
        }
    }

    /// The default user of a fresh instance: everything allowed, no password.
    pub fn default_user() -> User {
        let mut u = User::new("default", true);
        u.enabled = true;
        u.nopass = true;
        u.allkeys = true;
        u.set_all(true);
        u
    }

    fn bit(&self, id: u32) -> bool {
        self.allowed
            .get(id as usize / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn set_bit(&mut self, id: u32, on: bool) {
        if let Some(w) = self.allowed.get_mut(id as usize / 64) {
            if on {
                *w |= 1 << (id % 64);
            } else {
                *w &= !(1 << (id % 64));
            }
        }
    }

    fn set_all(&mut self, on: bool) {
        let fill = if on { u64::MAX } else { 0 };
        self.allowed.iter_mut().for_each(|w| *w = fill);
        self.all_commands = on;
        self.first_args.clear();
    }

    /// Allows or denies a command and, for a container, every subcommand.
    fn set_command(&mut self, id: u32, on: bool) {
        self.set_bit(id, on);
        self.first_args.remove(&id);
        for &sub in registry().subcommands(id) {
            self.set_bit(sub, on);
            self.first_args.remove(&sub);
        }
    }

    fn set_category(&mut self, flag: u64, on: bool) {
        for (i, s) in registry().specs.iter().enumerate() {
            if s.acl & flag != 0 {
                self.set_command(i as u32, on);
            }
        }
    }

    /// Whether the user may run command `id` with these arguments.
    pub fn can_run(&self, id: u32, argv: &[&[u8]]) -> bool {
        if self.bit(id) {
            return true;
        }
        match (self.first_args.get(&id), argv.get(first_arg_index(id))) {
            (Some(list), Some(a)) => list.iter().any(|f| f.eq_ignore_ascii_case(a)),
            _ => false,
        }
    }

    /// Whether a key may be used with the given permissions.
    pub fn key_allowed(&self, key: &[u8], need: u8) -> bool {
        self.allkeys
            || self
                .keys
                .iter()
                .any(|p| p.flags & need == need && glob_match(&p.pattern, key, false))
    }

    /// Whether a channel (or, for PSUBSCRIBE, a pattern, which must be listed
    /// literally) may be used.
    pub fn channel_allowed(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.allchannels
            || self.channels.iter().any(|p| {
                if is_pattern {
                    p == channel
                } else {
                    glob_match(p, channel, false)
                }
            })
    }

    fn unrestricted(&self) -> bool {
        self.allkeys
            && self.allchannels
            && self.first_args.is_empty()
            && self.allowed.iter().all(|&w| w == u64::MAX)
    }

    /// Applies one ACL SETUSER rule.
    pub fn apply(&mut self, op: &[u8]) -> Result<(), &'static str> {
        let lower = op.to_ascii_lowercase();
        match lower.as_slice() {
            b"" => return Ok(()),
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"allkeys" | b"~*" => {
                self.allkeys = true;
                self.keys.clear();
            }
            b"resetkeys" => {
                self.allkeys = false;
                self.keys.clear();
            }
            b"allchannels" | b"&*" => {
                self.allchannels = true;
                self.channels.clear();
            }
            b"resetchannels" => {
                self.allchannels = false;
                self.channels.clear();
            }
            b"allcommands" | b"+@all" => self.set_all(true),
            b"nocommands" | b"-@all" => self.set_all(false),
            b"reset" => {
                let name = std::mem::take(&mut self.name);
                *self = User::new(&name, false);
                self.sanitize_payload = Some(true);
            }
            b"sanitize-payload" => self.sanitize_payload = Some(true),
            b"skip-sanitize-payload" => self.sanitize_payload = Some(false),
            _ => return self.apply_prefixed(op),
        }
        Ok(())
    }

    fn apply_prefixed(&mut self, op: &[u8]) -> Result<(), &'static str> {
        let rest = &op[1..];
        match op[0] {
            b'>' | b'#' => {
                let hash = if op[0] == b'>' {
                    hex(&sha256(rest))
                } else {
                    check_hash(rest)?
                };
                if !self.passwords.contains(&hash) {
                    self.passwords.push(hash);
                }
                self.nopass = false;
            }
            b'<' | b'!' => {
                let hash = if op[0] == b'<' {
                    hex(&sha256(rest))
                } else {
                    check_hash(rest)?
                };
                let Some(i) = self.passwords.iter().position(|p| *p == hash) else {
                    return Err(errors::ACL_NO_SUCH_PASSWORD);
                };
                self.passwords.remove(i);
            }
            b'~' | b'%' => {
                let (flags, pat) = if op[0] == b'~' {
                    (READ | WRITE, rest)
                } else {
                    let Some(t) = rest.iter().position(|&c| c == b'~') else {
                        return Err(errors::ACL_SYNTAX);
                    };
                    let mut f = 0;
                    for &c in &rest[..t] {
                        match c.to_ascii_uppercase() {
                            b'R' => f |= READ,
                            b'W' => f |= WRITE,
                            _ => return Err(errors::ACL_SYNTAX),
                        }
                    }
                    if f == 0 {
                        return Err(errors::ACL_SYNTAX);
                    }
                    (f, &rest[t + 1..])
                };
                if self.allkeys {
                    return Err(errors::ACL_KEYS_AFTER_ALL);
                }
                if pat.contains(&b' ') {
                    return Err(errors::ACL_SYNTAX);
                }
                if flags == READ | WRITE && pat == b"*" {
                    self.allkeys = true;
                    self.keys.clear();
                    return Ok(());
                }
                match self.keys.iter_mut().find(|p| p.pattern == pat) {
                    Some(p) => p.flags |= flags,
                    None => self.keys.push(KeyPattern {
                        flags,
                        pattern: pat.to_vec(),
                    }),
                }
            }
            b'&' => {
                if self.allchannels {
                    return Err(errors::ACL_CHANNELS_AFTER_ALL);
                }
                if rest.contains(&b' ') {
                    return Err(errors::ACL_SYNTAX);
                }
                if !self.channels.iter().any(|c| c == rest) {
                    self.channels.push(rest.to_vec());
                }
            }
            b'+' | b'-' => {
                let on = op[0] == b'+';
                if let Some(name) = rest.strip_prefix(b"@") {
                    let flag = category(name).ok_or(errors::ACL_UNKNOWN_NAME)?;
                    self.set_category(flag, on);
                    return Ok(());
                }
                let reg = registry();
                if let Some(id) = reg.lookup(rest) {
                    self.set_command(id, on);
                    return Ok(());
                }
                // cmd|sub: a subcommand, or (allowing only) a first argument.
                let Some(bar) = rest.iter().position(|&c| c == b'|') else {
                    return Err(errors::ACL_UNKNOWN_NAME);
                };
                let (cmd, sub) = (&rest[..bar], &rest[bar + 1..]);
                let parent = reg.lookup(cmd).ok_or(errors::ACL_UNKNOWN_NAME)?;
                if sub.is_empty() || sub.contains(&b'|') {
                    return Err(errors::ACL_SYNTAX);
                }
                if !reg.subcommands(parent).is_empty() {
                    let id = reg
                        .lookup_sub(parent, sub)
                        .ok_or(errors::ACL_UNKNOWN_NAME)?;
                    self.set_command(id, on);
                    return Ok(());
                }
                if !on {
                    return Err(errors::ACL_UNKNOWN_NAME);
                }
                if self.bit(parent) {
                    return Ok(());
                }
                let list = self.first_args.entry(parent).or_default();
                if !list.iter().any(|f| f.eq_ignore_ascii_case(sub)) {
                    list.push(sub.to_ascii_lowercase());
                }
            }
            _ => return Err(errors::ACL_SYNTAX),
        }
        Ok(())
    }

    /// The flags ACL GETUSER lists.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize_payload {
            Some(false) => f.push("skip-sanitize-payload"),
            Some(true) => f.push("sanitize-payload"),
            None => {}
        }
        f
    }

    /// Key patterns as ACL GETUSER/LIST print them.
    pub fn describe_keys(&self) -> String {
        if self.allkeys {
            return "~*".into();
        }
        self.keys
            .iter()
            .map(|p| {
                let prefix = match p.flags {
                    f if f == READ | WRITE => "~".to_string(),
                    READ => "%R~".into(),
                    _ => "%W~".into(),
                };
                prefix + &String::from_utf8_lossy(&p.pattern)
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn describe_channels(&self) -> String {
        if self.allchannels {
            return "&*".into();
        }
        self.channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The command rules, rebuilt from the bitmap as Redis does: start from `+@all` or
    /// `-@all`, add the categories that fit best, then the single commands that differ.
    pub fn describe_commands(&self) -> String {
        let reg = registry();
        let additive = !self.all_commands;
        let mut rules = vec![if additive { "-@all" } else { "+@all" }.to_string()];
        let mut fake = User::new("", false);
        fake.set_all(!additive);
        let mut temp = self.clone();
        let mut applied = vec![false; cat::NAMES.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, &(flag, _)) in cat::NAMES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (mut on, mut off) = (0, 0);
                for (i, s) in reg.specs.iter().enumerate() {
                    if s.acl & flag != 0 {
                        if temp.bit(i as u32) {
                            on += 1;
                        } else {
                            off += 1;
                        }
                    }
                }
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            let (flag, name) = cat::NAMES[j];
            fake.set_category(flag, additive);
            temp.set_category(flag, !additive);
            rules.push(format!("{}@{name}", if additive { '+' } else { '-' }));
            applied[j] = true;
        }
        for (i, s) in reg.specs.iter().enumerate() {
            let id = i as u32;
            if s.handler.is_none() {
                // Containers are described through their subcommands.
                continue;
            }
            let mine = self.bit(id);
            if mine != fake.bit(id) {
                rules.push(format!("{}{}", if mine { '+' } else { '-' }, s.name));
                fake.set_bit(id, mine);
            }
            if !mine {
                if let Some(list) = self.first_args.get(&id) {
                    for f in list {
                        rules.push(format!("+{}|{}", s.name, String::from_utf8_lossy(f)));
                    }
                }
            }
        }
        rules.join(" ")
    }

    /// The user as one ACL LIST line.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("user {}", self.name)];
        parts.extend(self.flag_names().iter().map(|s| s.to_string()));
        parts.extend(self.passwords.iter().map(|p| format!("#{p}")));
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if self.allchannels {
            parts.push("&*".into());
        } else {
            parts.push("resetchannels".into());
            let ch = self.describe_channels();
            if !ch.is_empty() {
                parts.push(ch);
            }
        }
        parts.push(self.describe_commands());
        parts.join(" ")
    }

    /// Whether `pass` is one of the user's passwords (or the user needs none).
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let h = hex(&sha256(pass));
        self.passwords
            .iter()
            .any(|p| crate::directory::constant_time_eq(p.as_bytes(), h.as_bytes()))
    }
}

/// Where the first argument of a command sits (after the subcommand for
/// subcommands).
fn first_arg_index(id: u32) -> usize {
    if registry().spec(id).name.contains('|') {
        2
    } else {
        1
    }
}

fn check_hash(h: &[u8]) -> Result<String, &'static str> {
    if h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(String::from_utf8_lossy(h).into_owned())
    } else {
        Err(errors::ACL_BAD_HASH)
    }
}

/// The flag of a category name (`read`, `string`, ...).
pub fn category(name: &[u8]) -> Option<u64> {
    cat::NAMES
        .iter()
        .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|(f, _)| *f)
}

/// The compiled permissions a restricted client checks against.
pub type Perms = Arc<User>;

/// One ACL LOG entry.
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub count: u64,
    /// "command", "key", "channel" or "auth".
    pub reason: &'static str,
    /// "toplevel", "multi" or "lua".
    pub context: &'static str,
    pub object: String,
    pub username: String,
    pub created: Instant,
    pub client_info: String,
}

/// The users of one instance and its ACL log.
#[derive(Debug)]
pub struct Acl {
    users: RwLock<BTreeMap<String, Arc<User>>>,
    /// Bumped at every change to users: clients re-read their user's permissions.
    epoch: AtomicU64,
    log: Mutex<Vec<LogEntry>>,
}

impl Default for Acl {
    fn default() -> Self {
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), Arc::new(User::default_user()));
        Acl {
            users: RwLock::new(users),
            epoch: AtomicU64::new(1),
            log: Mutex::new(Vec::new()),
        }
    }
}

impl Acl {
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Relaxed)
    }

    pub fn user(&self, name: &str) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.users.read().keys().cloned().collect()
    }

    pub fn all(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// Applies rules to a copy of the user (a new one if missing) and stores it only
    /// when every rule applied, as Redis does. Returns the failing rule and why.
    pub fn set_user(
        &self,
        name: &str,
        rules: &[&[u8]],
        allchannels_default: bool,
    ) -> Result<(), (usize, &'static str)> {
        let mut users = self.users.write();
        let mut u = match users.get(name) {
            Some(u) => (**u).clone(),
            None => User::new(name, allchannels_default),
        };
        for (i, r) in rules.iter().enumerate() {
            u.apply(r).map_err(|e| (i, e))?;
        }
        users.insert(name.to_string(), Arc::new(u));
        self.epoch.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Removes users; returns how many existed.
    pub fn delete(&self, names: &[String]) -> usize {
        let mut users = self.users.write();
        let n = names.iter().filter(|n| users.remove(*n).is_some()).count();
        self.epoch.fetch_add(1, Relaxed);
        n
    }

    /// Points the default user's passwords at requirepass (CONFIG SET requirepass).
    pub fn set_default_password(&self, pass: Option<&str>) {
        let mut users = self.users.write();
        if let Some(d) = users.get_mut("default") {
            let mut u = (**d).clone();
            u.passwords.clear();
            match pass {
                Some(p) => {
                    u.nopass = false;
                    u.passwords.push(hex(&sha256(p.as_bytes())));
                }
                None => u.nopass = true,
            }
            *d = Arc::new(u);
        }
        self.epoch.fetch_add(1, Relaxed);
    }

    /// Whether new connections must authenticate (the default user has a password
    /// or is off).
    pub fn default_needs_auth(&self) -> bool {
        self.user("default")
            .is_none_or(|u| !(u.nopass && u.enabled))
    }

    /// Records a denial, merging it with a similar recent one, as Redis does.
    pub fn log(&self, mut e: LogEntry, max: usize) {
        let mut log = self.log.lock();
        let similar = log.iter().position(|o| {
            o.reason == e.reason
                && o.context == e.context
                && o.object == e.object
                && o.username == e.username
                && o.created.elapsed().as_secs() < 60
        });
        if let Some(i) = similar {
            // The updated entry moves to the head.
            let old = log.remove(i);
            e.count = old.count + 1;
        }
        log.insert(0, e);
        log.truncate(max);
    }

    pub fn log_entries(&self, count: usize) -> Vec<LogEntry> {
        self.log.lock().iter().take(count).cloned().collect()
    }

    pub fn log_reset(&self) {
        self.log.lock().clear();
    }
}

/// Why a command is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denied {
    Command,
    /// The argument position of the key.
    Key(usize),
    /// The argument position of the channel (or pattern).
    Channel(usize),
}

/// The channel arguments of a pub/sub command, and whether they are patterns, as
/// Redis 7.0 checks them (the UNSUBSCRIBE family is never refused).
fn channels_of<'a>(spec: &CommandSpec, argv: &'a [&'a [u8]]) -> (std::ops::Range<usize>, bool) {
    match spec.name {
        "publish" | "spublish" => (1..2.min(argv.len()), false),
        "subscribe" | "ssubscribe" => (1..argv.len(), false),
        "psubscribe" => (1..argv.len(), true),
        _ => (0..0, false),
    }
}

/// Positions of a command's keys with the permissions each needs, from its key specs.
pub fn keys_with_flags(spec: &CommandSpec, argv: &[&[u8]]) -> Vec<(usize, u8)> {
    let mut out = Vec::new();
    let argc = argv.len() as i64;
    for ks in spec.key_specs {
        let mut need = 0;
        for f in ks.flags {
            match *f {
                "access" => need |= READ,
                "insert" | "delete" | "update" => need |= WRITE,
                _ => {}
            }
        }
        if ks.flags.contains(&"variable_flags") {
            need = variable_key_flags(spec.name, argv).unwrap_or(need);
        }
        let start = match &ks.begin_search {
            BeginSearch::Index(i) => *i,
            BeginSearch::Keyword { keyword, startfrom } => {
                let found = if *startfrom >= 0 {
                    (*startfrom..argc)
                        .find(|&i| argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()))
                } else {
                    (1..=argc + startfrom)
                        .rev()
                        .find(|&i| argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()))
                };
                match found {
                    Some(i) => i + 1,
                    None => continue,
                }
            }
            BeginSearch::Unknown => {
                // Fall back on the legacy positions.
                if let Some(p) = spec.key_positions(argv) {
                    out.extend(p.into_iter().map(|i| (i, READ | WRITE)));
                }
                continue;
            }
        };
        match &ks.find_keys {
            FindKeys::Range {
                lastkey,
                step,
                limit,
            } => {
                let last = if *lastkey >= 0 {
                    start + lastkey
                } else if *limit <= 1 {
                    argc + lastkey
                } else {
                    start + (argc - start) / limit + lastkey
                };
                let step = (*step).max(1);
                let mut i = start;
                while i <= last.min(argc - 1) {
                    if i >= 1 {
                        out.push((i as usize, need));
                    }
                    i += step;
                }
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                step,
            } => {
                let Some(n) = argv
                    .get((start + keynumidx) as usize)
                    .and_then(|a| crate::families::util::parse_i64(a))
                else {
                    continue;
                };
                let first = start + firstkey;
                let step = (*step).max(1);
                for k in 0..n.max(0) {
                    let i = first + k * step;
                    if i >= argc {
                        break;
                    }
                    out.push((i as usize, need));
                }
            }
            FindKeys::Unknown => {
                if let Some(p) = spec.key_positions(argv) {
                    out.extend(p.into_iter().map(|i| (i, READ | WRITE)));
                }
            }
        }
    }
    out
}

/// The permissions of commands whose key flags depend on their arguments, as
/// Redis's key-spec callbacks report them.
fn variable_key_flags(name: &str, argv: &[&[u8]]) -> Option<u8> {
    let has = |w: &[u8]| argv.iter().skip(2).any(|a| a.eq_ignore_ascii_case(w));
    match name {
        // SET reads the old value only with GET.
        "set" => Some(if has(b"get") { READ | WRITE } else { WRITE }),
        // BITFIELD writes only with SET or INCRBY, reads only with GET.
        "bitfield" => {
            let mut f = 0;
            if has(b"get") {
                f |= READ;
            }
            if has(b"set") || has(b"incrby") {
                f |= WRITE;
            }
            Some(if f == 0 { READ } else { f })
        }
        _ => None,
    }
}

/// Checks a user's permission for a command.
pub fn permitted(user: &User, id: u32, spec: &CommandSpec, argv: &[&[u8]]) -> Result<(), Denied> {
    // AUTH and HELLO are open to every user (they change who the user is).
    if !spec.has(crate::spec::flags::NO_AUTH) && !user.can_run(id, argv) {
        return Err(Denied::Command);
    }
    if !user.allkeys {
        for (i, need) in keys_with_flags(spec, argv) {
            if !user.key_allowed(argv[i], need) {
                return Err(Denied::Key(i));
            }
        }
    }
    if !user.allchannels {
        let (range, pattern) = channels_of(spec, argv);
        for i in range {
            if !user.channel_allowed(argv[i], pattern) {
                return Err(Denied::Channel(i));
            }
        }
    }
    Ok(())
}

/// Refreshes the client's permissions if users changed since it last looked.
#[inline]
pub fn refresh(inst: &Instance, client: &mut Client) {
    let epoch = inst.acl.epoch();
    if client.acl_epoch == epoch {
        return;
    }
    client.acl_epoch = epoch;
    client.perms = match inst.acl.user(&client.user) {
        Some(u) if u.unrestricted() => None,
        Some(u) => Some(u),
        // A deleted user's connections are closed; until then they may do nothing.
        None => Some(Arc::new(User::new(&client.user, false))),
    };
}

/// The dispatch check: None when allowed, else the NOPERM error (and a log entry).
#[inline]
pub fn check(
    inst: &Instance,
    client: &mut Client,
    id: u32,
    spec: &CommandSpec,
    argv: &[&[u8]],
) -> Option<String> {
    refresh(inst, client);
    let user = client.perms.as_ref()?;
    let denied = permitted(user, id, spec, argv).err()?;
    let (reason, object, msg) = match denied {
        Denied::Command => (
            "command",
            spec.name.to_string(),
            errors::noperm_command(spec.name),
        ),
        Denied::Key(i) => (
            "key",
            String::from_utf8_lossy(argv[i]).into_owned(),
            errors::NOPERM_KEY.to_string(),
        ),
        Denied::Channel(i) => (
            "channel",
            String::from_utf8_lossy(argv[i]).into_owned(),
            errors::NOPERM_CHANNEL.to_string(),
        ),
    };
    let context = if client.multi.is_some() {
        "multi"
    } else {
        "toplevel"
    };
    log_denial(inst, client, reason, context, object);
    Some(msg)
}

/// EXEC's check of a queued command against the user's current rights: None when
/// still allowed, else Redis's error for rules changed after queuing.
pub fn recheck_at_exec(
    inst: &Instance,
    client: &mut Client,
    id: u32,
    spec: &CommandSpec,
    argv: &[&[u8]],
) -> Option<String> {
    refresh(inst, client);
    let user = client.perms.as_ref()?;
    let denied = permitted(user, id, spec, argv).err()?;
    let (reason, object, why) = match denied {
        Denied::Command => (
            "command",
            spec.name.to_string(),
            "no permission to execute the command or subcommand",
        ),
        Denied::Key(i) => (
            "key",
            String::from_utf8_lossy(argv[i]).into_owned(),
            "no permission to touch the specified keys",
        ),
        Denied::Channel(i) => (
            "channel",
            String::from_utf8_lossy(argv[i]).into_owned(),
            "no permission to access one of the channels used as arguments",
        ),
    };
    log_denial(inst, client, reason, "multi", object);
    Some(errors::noperm_changed_at_exec(why))
}

pub fn log_denial(
    inst: &Instance,
    client: &Client,
    reason: &'static str,
    context: &'static str,
    object: String,
) {
    let max = inst.config.read().acllog_max_len as usize;
    inst.acl.log(
        LogEntry {
            count: 1,
            reason,
            context,
            object,
            username: client.user.clone(),
            created: Instant::now(),
            client_info: crate::families::connection::client_line(&client.info),
        },
        max,
    );
}

// ---------------------------------------------------------------------------------
// SHA-256 (FIPS 180-4), for password hashes.

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, c) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, v) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_test_vectors() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Redis's hash of "pw" (ACL GETUSER after >pw).
        assert_eq!(
            hex(&sha256(b"pw")),
            "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            hex(&sha256(&long)),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
    }

    #[test]
    fn describe_rebuilds_rules_like_redis() {
        let mut u = User::new("u2", false);
        for r in [
            "on",
            ">pw",
            "~k*",
            "%R~r*",
            "%W~w*",
            "&ch*",
            "+get",
            "+@string",
            "-incr",
            "+config|get",
            "-@dangerous",
        ] {
            u.apply(r.as_bytes()).expect(r);
        }
        assert_eq!(u.describe_keys(), "~k* %R~r* %W~w*");
        assert_eq!(u.describe_channels(), "&ch*");
        assert_eq!(u.describe_commands(), "-@all +@string -incr");
        assert_eq!(
            u.describe(),
            "user u2 on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~k* %R~r* %W~w* resetchannels &ch* -@all +@string -incr"
        );
        assert_eq!(
            User::default_user().describe(),
            "user default on nopass ~* &* +@all"
        );
        assert_eq!(
            User::new("u1", false).describe(),
            "user u1 off resetchannels -@all"
        );
    }

    #[test]
    fn rules_errors() {
        let mut u = User::new("x", false);
        assert_eq!(u.apply(b"foo"), Err(errors::ACL_SYNTAX));
        assert_eq!(u.apply(b"+nosuch"), Err(errors::ACL_UNKNOWN_NAME));
        assert_eq!(u.apply(b"+@nosuch"), Err(errors::ACL_UNKNOWN_NAME));
        assert_eq!(u.apply(b"#abc"), Err(errors::ACL_BAD_HASH));
        assert_eq!(u.apply(b"<nope"), Err(errors::ACL_NO_SUCH_PASSWORD));
        assert_eq!(u.apply(b"~a b"), Err(errors::ACL_SYNTAX));
        assert_eq!(u.apply(b"%X~a"), Err(errors::ACL_SYNTAX));
        assert_eq!(u.apply(b"-get|x"), Err(errors::ACL_UNKNOWN_NAME));
        assert_eq!(u.apply(b"+config|nosuch"), Err(errors::ACL_UNKNOWN_NAME));
        assert_eq!(u.apply(b"+get|x"), Ok(()));
        assert_eq!(u.describe_commands(), "-@all +get|x");
        u.apply(b"allkeys").expect("allkeys");
        assert_eq!(u.apply(b"~a"), Err(errors::ACL_KEYS_AFTER_ALL));
        u.apply(b"allchannels").expect("allchannels");
        assert_eq!(u.apply(b"&a"), Err(errors::ACL_CHANNELS_AFTER_ALL));
    }

    #[test]
    fn permissions_follow_rules_and_key_specs() {
        let reg = registry();
        let mut u = User::new("x", false);
        for r in ["on", "+get", "+set", "+lmove", "%R~r*", "~a*", "%W~w*"] {
            u.apply(r.as_bytes()).expect(r);
        }
        let check = |argv: &[&[u8]]| {
            let id = reg.lookup(argv[0]).expect("known");
            permitted(&u, id, reg.spec(id), argv)
        };
        assert_eq!(check(&[b"get", b"a1"]), Ok(()));
        assert_eq!(check(&[b"get", b"r1"]), Ok(()));
        assert_eq!(check(&[b"get", b"w1"]), Err(Denied::Key(1)));
        assert_eq!(check(&[b"set", b"w1", b"v"]), Ok(()));
        assert_eq!(check(&[b"set", b"r1", b"v"]), Err(Denied::Key(1)));
        assert_eq!(check(&[b"del", b"a1"]), Err(Denied::Command));
        // LMOVE reads and deletes from the source, inserts into the destination.
        assert_eq!(check(&[b"lmove", b"a1", b"w1", b"left", b"left"]), Ok(()));
        assert_eq!(
            check(&[b"lmove", b"w1", b"a1", b"left", b"left"]),
            Err(Denied::Key(1))
        );
        assert!(u.password_ok(b"x") == u.nopass);
    }
}
