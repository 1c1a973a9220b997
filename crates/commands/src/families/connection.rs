//! The connection family: PING, ECHO, QUIT, RESET, AUTH, HELLO, SELECT and CLIENT.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use resp::Protocol;

use crate::client::{ClientInfo, ReplyMode};
use crate::ctx::Ctx;
use crate::directory::OpenError;
use crate::errors;
use crate::instance::Instance;
use crate::registry::registry;
use crate::spec::Handler;
use crate::tracking::flag as tflag;

pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("ping", ping),
        ("echo", echo),
        ("quit", quit),
        ("reset", reset),
        ("auth", auth),
        ("hello", hello),
        ("select", select),
        ("client|id", client_id),
        ("client|setname", client_setname),
        ("client|getname", client_getname),
        ("client|setinfo", client_setinfo),
        ("client|list", client_list),
        ("client|info", client_info),
        ("client|kill", client_kill),
        ("client|reply", client_reply),
        ("client|no-evict", client_no_evict),
        ("client|no-touch", client_no_touch),
        ("client|help", client_help),
        ("client|getredir", client_getredir),
        ("client|tracking", client_tracking),
        ("client|caching", client_caching),
        ("client|trackinginfo", client_trackinginfo),
        ("client|unblock", client_unblock),
        ("client|unpause", client_unpause),
    ]
}

fn ping(ctx: &mut Ctx, argv: &[&[u8]]) {
    // A RESP2 subscriber gets PING's answer in the shape of a message.
    if !ctx.out.is_resp3() && crate::pubsub::subscribed(ctx.client) {
        if argv.len() > 2 {
            return ctx.error(&errors::wrong_arity("ping"));
        }
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(argv.get(1).copied().unwrap_or(b""));
        return;
    }
    match argv.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(argv[1]),
        _ => ctx.error(&errors::wrong_arity("ping")),
    }
}

fn echo(ctx: &mut Ctx, argv: &[&[u8]]) {
    ctx.out.bulk(argv[1]);
}

fn quit(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
}

fn reset(ctx: &mut Ctx, _argv: &[&[u8]]) {
    crate::multi::discard(ctx.inst, ctx.client);
    crate::pubsub::release(ctx.inst, ctx.client);
    if ctx.client.info.monitor.swap(false, Relaxed) {
        ctx.inst.diag.monitors.remove(ctx.client.info.id);
        ctx.client.info.outbox.clear();
    }
    crate::tracking::disable(ctx.inst, &ctx.client.info);
    let c = &mut *ctx.client;
    c.tracking_caching = false;
    c.tracking_on = false;
    c.select(0);
    c.reply_mode = ReplyMode::On;
    c.no_touch = false;
    c.info.no_touch.store(false, Relaxed);
    c.info.no_evict.store(false, Relaxed);
    *c.info.name.lock() = None;
    c.authenticated = !ctx.inst.needs_auth();
    log_in(c, "default".into());
    // A connection that came through the front door goes back to it, unauthenticated.
    if let Some(door) = &c.front_door {
        if !std::ptr::eq(Arc::as_ptr(door), ctx.inst) {
            c.authenticated = false;
            c.move_to(door.clone());
        }
    }
    ctx.out.set_protocol(Protocol::Resp2);
    c.info.resp.store(2, Relaxed);
    if let Some(s) = &c.subs {
        s.outbox.set_resp3(false);
    }
    ctx.out.simple("RESET");
}

/// Checks a username/password pair. On a standalone instance or a tenant's own port
/// the only user is `default` (a tenant's name is accepted as its user too, so the
/// same `--user db --pass secret` works on both ports). On a connection that came
/// through the front door, the user names the database to open. Returns the instance
/// the connection must move to, if it is not the current one.
fn check_credentials(
    ctx: &mut Ctx,
    user: Option<&[u8]>,
    pass: &[u8],
) -> Result<(Option<Arc<Instance>>, String), String> {
    let is_own_name = |u: &[u8]| {
        u == b"default"
            || ctx
                .inst
                .config
                .read()
                .database
                .as_deref()
                .is_some_and(|n| n.as_bytes() == u)
    };
    if let Some(door) = &ctx.client.front_door {
        match user {
            // A user of this database's own ACL logs in here; any other name names
            // a database to move to.
            Some(u)
                if ctx.inst.is_front_door()
                    || (!is_own_name(u)
                        && ctx.inst.acl.user(&String::from_utf8_lossy(u)).is_none()) =>
            {
                let Some(dir) = &door.directory else {
                    return Err(errors::WRONGPASS.into());
                };
                return match dir.open(u, pass) {
                    Ok(inst) if std::ptr::eq(Arc::as_ptr(&inst), ctx.inst) => {
                        Ok((None, "default".into()))
                    }
                    Ok(inst) => Ok((Some(inst), "default".into())),
                    Err(OpenError::WrongPass) => Err(errors::WRONGPASS.into()),
                    Err(OpenError::NotRunning { status }) => Err(errors::database_not_running(
                        &String::from_utf8_lossy(u),
                        &status,
                    )),
                    Err(OpenError::Full) => Err(errors::MAX_CLIENTS.into()),
                };
            }
            None if ctx.inst.is_front_door() => {
                return Err(errors::FRONT_DOOR_NEEDS_DATABASE.into());
            }
            _ => {}
        }
    }
    // The instance's own users (a tenant's name stands for its default user).
    let name = match user {
        Some(u) if !is_own_name(u) => String::from_utf8_lossy(u).into_owned(),
        _ => "default".to_string(),
    };
    let acl = &ctx.inst.acl;
    let found = acl.user(&name);
    if user.is_none() && found.as_ref().is_some_and(|u| u.nopass) {
        return Err(errors::AUTH_NOT_CONFIGURED.into());
    }
    match found {
        Some(u) if u.enabled && u.password_ok(pass) => Ok((None, name)),
        _ => {
            // The command as the client typed it, as Redis logs it.
            let object = String::from_utf8_lossy(ctx.argv[0]).into_owned();
            // The log names the user that was tried.
            let who = std::mem::replace(&mut ctx.client.user, name);
            crate::acl::log_denial(ctx.inst, ctx.client, "auth", "toplevel", object);
            ctx.client.user = who;
            Err(errors::WRONGPASS.into())
        }
    }
}

/// Makes `name` the connection's user.
fn log_in(client: &mut crate::client::Client, name: String) {
    *client.info.user.lock() = name.clone();
    client.user = name;
    // Read the new user's permissions before the next command.
    client.acl_epoch = 0;
}

fn auth(ctx: &mut Ctx, argv: &[&[u8]]) {
    let (user, pass) = match argv.len() {
        2 => (None, argv[1]),
        3 => (Some(argv[1]), argv[2]),
        _ => return ctx.error(errors::SYNTAX),
    };
    match check_credentials(ctx, user, pass) {
        Ok((target, name)) => {
            ctx.client.authenticated = true;
            log_in(ctx.client, name);
            if let Some(t) = target {
                ctx.client.move_to(t);
            }
            ctx.out.ok();
        }
        Err(e) => ctx.error(&e),
    }
}

fn hello(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut proto = None;
    let mut i = 1;
    if argv.len() > 1 {
        let v = std::str::from_utf8(argv[1])
            .ok()
            .and_then(|s| s.parse::<i64>().ok());
        match v {
            None => {
                return ctx.error("ERR Protocol version is not an integer or out of range");
            }
            Some(2) => proto = Some(Protocol::Resp2),
            Some(3) => proto = Some(Protocol::Resp3),
            Some(_) => return ctx.error(errors::NOPROTO),
        }
        i = 2;
    }
    let mut auth: Option<(&[u8], &[u8])> = None;
    let mut name: Option<&[u8]> = None;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if argv[i].eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            auth = Some((argv[i + 1], argv[i + 2]));
            i += 3;
        } else if argv[i].eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            name = Some(argv[i + 1]);
            i += 2;
        } else {
            return ctx.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                errors::printable(argv[i], 128)
            ));
        }
    }
    if let Some((u, p)) = auth {
        match check_credentials(ctx, Some(u), p) {
            Ok((target, name)) => {
                log_in(ctx.client, name);
                if let Some(t) = target {
                    ctx.client.move_to(t);
                }
            }
            Err(e) => return ctx.error(&e),
        }
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return ctx.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(n) = name {
        if !valid_name(n) {
            return ctx.error(errors::CLIENT_NAME_SPACES);
        }
        set_name(&ctx.client.info, n);
    }
    if let Some(p) = proto {
        ctx.out.set_protocol(p);
        ctx.client
            .info
            .resp
            .store(if p == Protocol::Resp3 { 3 } else { 2 }, Relaxed);
        if let Some(s) = &ctx.client.subs {
            s.outbox.set_resp3(p == Protocol::Resp3);
        }
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk_str("server");
    out.bulk_str("redis");
    out.bulk_str("version");
    out.bulk_str(crate::families::server::REDIS_VERSION);
    out.bulk_str("proto");
    out.int(if out.is_resp3() { 3 } else { 2 });
    out.bulk_str("id");
    out.int(ctx.client.visible_id() as i64);
    out.bulk_str("mode");
    out.bulk_str("standalone");
    out.bulk_str("role");
    out.bulk_str("master");
    out.bulk_str("modules");
    out.array(0);
}

fn select(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(n) = engine::value::parse_i64_strict(argv[1]).or_else(|| lenient_int(argv[1])) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    if n < 0 || n as usize >= ctx.inst.ks.databases() {
        return ctx.error(errors::DB_INDEX_OUT_OF_RANGE);
    }
    ctx.client.select(n as usize);
    ctx.out.ok();
}

/// Redis's `getLongFromObject` accepts what `strtoll` accepts in full, e.g. "+1", "01".
fn lenient_int(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Redis accepts client names made of printable ASCII without spaces.
fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn set_name(info: &ClientInfo, n: &[u8]) {
    *info.name.lock() = if n.is_empty() {
        None
    } else {
        Some(String::from_utf8_lossy(n).into_owned())
    };
}

fn client_id(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.out.int(ctx.client.id() as i64);
}

fn client_setname(ctx: &mut Ctx, argv: &[&[u8]]) {
    if !valid_name(argv[2]) {
        return ctx.error(errors::CLIENT_NAME_SPACES);
    }
    set_name(&ctx.client.info, argv[2]);
    ctx.out.ok();
}

fn client_getname(ctx: &mut Ctx, _argv: &[&[u8]]) {
    match ctx.client.info.name.lock().clone() {
        Some(n) => ctx.out.bulk(n.as_bytes()),
        None => ctx.out.null(),
    }
}

fn client_setinfo(ctx: &mut Ctx, argv: &[&[u8]]) {
    let attr = argv[2];
    let val = argv[3];
    if !val.iter().all(|&c| (b'!'..=b'~').contains(&c)) {
        return ctx.error(&format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            errors::printable(attr, 32).to_ascii_uppercase()
        ));
    }
    let v = String::from_utf8_lossy(val).into_owned();
    if attr.eq_ignore_ascii_case(b"lib-name") {
        *ctx.client.info.lib_name.lock() = Some(v);
    } else if attr.eq_ignore_ascii_case(b"lib-ver") {
        *ctx.client.info.lib_ver.lock() = Some(v);
    } else {
        return ctx.error(&format!(
            "ERR Unrecognized option '{}'",
            errors::printable(attr, 128)
        ));
    }
    ctx.out.ok();
}

/// CLIENT LIST `flags`, in Redis's order: `P` subscribed, `x` in MULTI, `b` blocked,
/// `d` a watched key was modified; `N` when none.
fn flags(info: &ClientInfo) -> String {
    let mut f = String::new();
    if info.monitor.load(Relaxed) {
        f.push('O');
    }
    if info.is_pubsub() {
        f.push('P');
    }
    if info.multi.load(Relaxed) >= 0 {
        f.push('x');
    }
    f.extend(info.flags.lock().chars().filter(|&c| c != 'N'));
    let t = info.tracking.load(Relaxed);
    if t & tflag::ON != 0 {
        f.push('t');
    }
    if t & tflag::BROKEN_REDIR != 0 {
        f.push('R');
    }
    if t & tflag::BCAST != 0 {
        f.push('B');
    }
    if info.watch_dirty.load(Relaxed) {
        f.push('d');
    }
    if f.is_empty() {
        f.push('N');
    }
    f
}

/// One CLIENT LIST line, with Redis 7's fields.
pub fn client_line(info: &ClientInfo) -> String {
    let cmd = match info.last_cmd.load(Relaxed) {
        u32::MAX => "NULL".to_string(),
        id => registry()
            .specs
            .get(id as usize)
            .map(|s| s.name.to_string())
            .unwrap_or_else(|| "NULL".into()),
    };
    let qbuf = info.qbuf.load(Relaxed);
    let t = info.tracking.load(Relaxed);
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll={} omem={} tot-mem={} events=r cmd={} user={} redir={} resp={}",
        info.id,
        info.addr,
        info.laddr,
        info.fd.load(Relaxed),
        info.name.lock().clone().unwrap_or_default(),
        info.age_secs(),
        info.idle_secs(),
        flags(info),
        info.db.load(Relaxed),
        info.sub.load(Relaxed),
        info.psub.load(Relaxed),
        info.ssub.load(Relaxed),
        info.multi.load(Relaxed),
        qbuf,
        16384usize.saturating_sub(qbuf),
        info.oll.load(Relaxed),
        info.omem.load(Relaxed) + info.outbox.len(),
        16384 + qbuf + info.omem.load(Relaxed) + info.outbox.len(),
        cmd,
        info.user.lock(),
        if t & tflag::ON != 0 {
            info.tracking_redir.load(Relaxed) as i64
        } else {
            -1
        },
        info.resp.load(Relaxed),
    )
}

fn client_list(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut ids: Option<Vec<u64>> = None;
    // None: any client; Some(true): subscribers only; Some(false): normal clients.
    let mut pubsub: Option<bool> = None;
    let mut i = 2;
    while i < argv.len() {
        if argv[i].eq_ignore_ascii_case(b"TYPE") && i + 1 < argv.len() {
            let t = argv[i + 1].to_ascii_lowercase();
            match t.as_slice() {
                b"normal" => pubsub = Some(false),
                b"pubsub" => pubsub = Some(true),
                b"master" | b"replica" | b"slave" => ids = Some(Vec::new()),
                _ => {
                    return ctx.error(&format!(
                        "ERR Unknown client type '{}'",
                        errors::printable(argv[i + 1], 64)
                    ))
                }
            }
            i += 2;
        } else if argv[i].eq_ignore_ascii_case(b"ID") && i + 1 < argv.len() {
            let mut v = Vec::new();
            for a in &argv[i + 1..] {
                match lenient_int(a) {
                    Some(n) if n > 0 => v.push(n as u64),
                    _ => return ctx.error("ERR Invalid client ID"),
                }
            }
            ids = Some(v);
            i = argv.len();
        } else {
            return ctx.error(errors::SYNTAX);
        }
    }
    let mut infos: Vec<_> = ctx.inst.clients.lock().values().cloned().collect();
    infos.sort_by_key(|c| c.id);
    let mut text = String::new();
    for c in infos {
        if ids.as_ref().is_some_and(|ids| !ids.contains(&c.id)) {
            continue;
        }
        if pubsub.is_some_and(|p| p != c.is_pubsub()) {
            continue;
        }
        text.push_str(&client_line(&c));
        text.push('\n');
    }
    ctx.out.verbatim("txt", text.as_bytes());
}

fn client_info(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let mut line = client_line(&ctx.client.info);
    line.push('\n');
    ctx.out.verbatim("txt", line.as_bytes());
}

fn client_kill(ctx: &mut Ctx, argv: &[&[u8]]) {
    let me = ctx.client.id();
    let infos: Vec<_> = ctx.inst.clients.lock().values().cloned().collect();
    if argv.len() == 3 {
        // Old form: CLIENT KILL addr:port
        let addr = String::from_utf8_lossy(argv[2]);
        match infos.iter().find(|c| c.addr == addr) {
            Some(c) => {
                kill(ctx, c, me);
                ctx.out.ok();
            }
            None => ctx.error(errors::NO_SUCH_CLIENT),
        }
        return;
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut user = None;
    let mut maxage = None;
    let mut skipme = true;
    // None: any type; Some(true): subscribers; Some(false): normal clients.
    let mut kind: Option<bool> = None;
    let mut kind_known = true;
    let mut i = 2;
    while i < argv.len() {
        if i + 1 >= argv.len() {
            return ctx.error(errors::SYNTAX);
        }
        let (opt, val) = (argv[i].to_ascii_lowercase(), argv[i + 1]);
        match opt.as_slice() {
            b"id" => match lenient_int(val) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return ctx.error("ERR client-id should be greater than 0"),
            },
            b"addr" => addr = Some(String::from_utf8_lossy(val).into_owned()),
            b"laddr" => laddr = Some(String::from_utf8_lossy(val).into_owned()),
            b"user" => user = Some(String::from_utf8_lossy(val).into_owned()),
            b"maxage" => match lenient_int(val) {
                Some(n) if n >= 0 => maxage = Some(n as u64),
                _ => return ctx.error(errors::NOT_INTEGER),
            },
            b"type" => match val.to_ascii_lowercase().as_slice() {
                b"normal" => kind = Some(false),
                b"pubsub" => kind = Some(true),
                b"master" | b"replica" | b"slave" => kind_known = false,
                _ => {
                    return ctx.error(&format!(
                        "ERR Unknown client type '{}'",
                        errors::printable(val, 64)
                    ))
                }
            },
            b"skipme" => match val.to_ascii_lowercase().as_slice() {
                b"yes" => skipme = true,
                b"no" => skipme = false,
                _ => return ctx.error(errors::SYNTAX),
            },
            _ => return ctx.error(errors::SYNTAX),
        }
        i += 2;
    }
    let mut killed = 0;
    for c in &infos {
        let matches = kind_known
            && kind.is_none_or(|k| k == c.is_pubsub())
            && id.is_none_or(|x| x == c.id)
            && addr.as_ref().is_none_or(|a| *a == c.addr)
            && laddr.as_ref().is_none_or(|a| *a == c.laddr)
            && user.as_ref().is_none_or(|u| *u == *c.user.lock())
            && maxage.is_none_or(|m| c.age_secs() >= m)
            && !(skipme && c.id == me);
        if matches {
            kill(ctx, c, me);
            killed += 1;
        }
    }
    ctx.out.int(killed);
}

fn kill(ctx: &mut Ctx, c: &ClientInfo, me: u64) {
    if c.id == me {
        // Killing ourselves: reply first, then close.
        ctx.client.close_after_reply = true;
    } else {
        c.kill();
    }
}

fn on_off(ctx: &mut Ctx, v: &[u8]) -> Option<bool> {
    if v.eq_ignore_ascii_case(b"on") {
        Some(true)
    } else if v.eq_ignore_ascii_case(b"off") {
        Some(false)
    } else {
        ctx.error(errors::SYNTAX);
        None
    }
}

fn client_reply(ctx: &mut Ctx, argv: &[&[u8]]) {
    let v = argv[2].to_ascii_lowercase();
    match v.as_slice() {
        b"on" => {
            ctx.client.reply_mode = ReplyMode::On;
            ctx.out.ok();
        }
        b"off" => ctx.client.reply_mode = ReplyMode::Off,
        b"skip" => {
            if ctx.client.reply_mode != ReplyMode::Off {
                ctx.client.reply_mode = ReplyMode::SkipNext;
            }
        }
        _ => ctx.error(errors::SYNTAX),
    }
}

fn client_no_evict(ctx: &mut Ctx, argv: &[&[u8]]) {
    if let Some(v) = on_off(ctx, argv[2]) {
        ctx.client.info.no_evict.store(v, Relaxed);
        ctx.out.ok();
    }
}

fn client_no_touch(ctx: &mut Ctx, argv: &[&[u8]]) {
    if let Some(v) = on_off(ctx, argv[2]) {
        ctx.client.no_touch = v;
        ctx.client.info.no_touch.store(v, Relaxed);
        ctx.out.ok();
    }
}

/// CLIENT GETREDIR: the redirection of a tracking client (0: none), -1 when tracking
/// is off.
fn client_getredir(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let info = &ctx.client.info;
    if info.tracking.load(Relaxed) & tflag::ON != 0 {
        ctx.out.int(info.tracking_redir.load(Relaxed) as i64);
    } else {
        ctx.out.int(-1);
    }
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT]
/// [NOLOOP], with Redis's checks in Redis's order: the options first (REDIRECT's
/// target must exist), then ON/OFF, then the combinations.
fn client_tracking(ctx: &mut Ctx, argv: &[&[u8]]) {
    use super::util::{eq_ic, parse_i64};
    let mut redir: u64 = 0;
    let mut options = 0u32;
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut j = 3;
    while j < argv.len() {
        let a = argv[j];
        let more = j + 1 < argv.len();
        if eq_ic(a, b"redirect") && more {
            j += 1;
            if redir != 0 {
                return ctx.error(errors::TRACKING_ONE_REDIRECT);
            }
            let Some(id) = parse_i64(argv[j]) else {
                return ctx.error(errors::NOT_INTEGER);
            };
            if id <= 0 || !ctx.inst.clients.lock().contains_key(&(id as u64)) {
                return ctx.error(errors::TRACKING_NO_SUCH_REDIRECT);
            }
            redir = id as u64;
        } else if eq_ic(a, b"bcast") {
            options |= tflag::BCAST;
        } else if eq_ic(a, b"optin") {
            options |= tflag::OPTIN;
        } else if eq_ic(a, b"optout") {
            options |= tflag::OPTOUT;
        } else if eq_ic(a, b"noloop") {
            options |= tflag::NOLOOP;
        } else if eq_ic(a, b"prefix") && more {
            j += 1;
            prefixes.push(argv[j]);
        } else {
            return ctx.error(errors::SYNTAX);
        }
        j += 1;
    }
    let inst = ctx.inst;
    let info = ctx.client.info.clone();
    if eq_ic(argv[2], b"on") {
        let cur = info.tracking.load(Relaxed);
        if options & tflag::BCAST == 0 && !prefixes.is_empty() {
            return ctx.error(errors::TRACKING_PREFIX_NEEDS_BCAST);
        }
        if cur & tflag::ON != 0 && (cur & tflag::BCAST != 0) != (options & tflag::BCAST != 0) {
            return ctx.error(errors::TRACKING_BCAST_SWITCH);
        }
        if options & tflag::BCAST != 0 && options & (tflag::OPTIN | tflag::OPTOUT) != 0 {
            return ctx.error(errors::TRACKING_OPT_WITH_BCAST);
        }
        if options & tflag::OPTIN != 0 && options & tflag::OPTOUT != 0 {
            return ctx.error(errors::TRACKING_OPTIN_AND_OPTOUT);
        }
        if (options & tflag::OPTIN != 0 && cur & tflag::OPTOUT != 0)
            || (options & tflag::OPTOUT != 0 && cur & tflag::OPTIN != 0)
        {
            return ctx.error(errors::TRACKING_OPT_SWITCH);
        }
        if options & tflag::BCAST != 0 {
            if let Some(msg) = inst.tracking.prefix_collision(info.id, &prefixes) {
                return ctx.error(&msg);
            }
        }
        crate::tracking::enable(inst, &info, redir, options, &prefixes);
        ctx.client.tracking_on = true;
    } else if eq_ic(argv[2], b"off") {
        crate::tracking::disable(inst, &info);
        ctx.client.tracking_caching = false;
        ctx.client.tracking_on = false;
    } else {
        return ctx.error(errors::SYNTAX);
    }
    ctx.out.ok();
}

/// CLIENT CACHING YES|NO: whether the next command's keys are tracked (OPTIN/OPTOUT).
fn client_caching(ctx: &mut Ctx, argv: &[&[u8]]) {
    use super::util::eq_ic;
    let f = ctx.client.info.tracking.load(Relaxed);
    if f & tflag::ON == 0 {
        return ctx.error(errors::CACHING_NOT_TRACKING);
    }
    if eq_ic(argv[2], b"yes") {
        if f & tflag::OPTIN == 0 {
            return ctx.error(errors::CACHING_YES_NOT_OPTIN);
        }
    } else if eq_ic(argv[2], b"no") {
        if f & tflag::OPTOUT == 0 {
            return ctx.error(errors::CACHING_NO_NOT_OPTOUT);
        }
    } else {
        return ctx.error(errors::SYNTAX);
    }
    ctx.client.tracking_caching = true;
    ctx.out.ok();
}

/// CLIENT TRACKINGINFO: a map of `flags` (a set), `redirect` and `prefixes`.
fn client_trackinginfo(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let info = ctx.client.info.clone();
    let f = info.tracking.load(Relaxed);
    let caching = ctx.client.tracking_caching;
    let mut names: Vec<&[u8]> = vec![if f & tflag::ON != 0 { b"on" } else { b"off" }];
    if f & tflag::BCAST != 0 {
        names.push(b"bcast");
    }
    if f & tflag::OPTIN != 0 {
        names.push(b"optin");
        if caching {
            names.push(b"caching-yes");
        }
    }
    if f & tflag::OPTOUT != 0 {
        names.push(b"optout");
        if caching {
            names.push(b"caching-no");
        }
    }
    if f & tflag::NOLOOP != 0 {
        names.push(b"noloop");
    }
    if f & tflag::BROKEN_REDIR != 0 {
        names.push(b"broken_redirect");
    }
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(names.len());
    for n in names {
        out.bulk(n);
    }
    out.bulk(b"redirect");
    if f & tflag::ON != 0 {
        out.int(info.tracking_redir.load(Relaxed) as i64);
    } else {
        out.int(-1);
    }
    out.bulk(b"prefixes");
    let prefixes = ctx.inst.tracking.prefixes_of(info.id);
    out.array(prefixes.len());
    for p in prefixes {
        out.bulk(&p);
    }
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends a blocking command's wait, with its
/// timeout reply or an UNBLOCKED error.
fn client_unblock(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(id) = super::util::parse_i64(argv[2]) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    use super::util::eq_ic;
    let with_error = match argv.get(3) {
        None => false,
        Some(a) if eq_ic(a, b"timeout") => false,
        Some(a) if eq_ic(a, b"error") => true,
        Some(_) => return ctx.error(errors::UNBLOCK_REASON),
    };
    let done = u64::try_from(id).is_ok_and(|id| ctx.inst.blocking.unblock(id, with_error));
    ctx.out.int(i64::from(done));
}

/// Clients are never paused (CLIENT PAUSE is not served), so there is nothing to undo.
fn client_unpause(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.out.ok();
}

fn client_help(ctx: &mut Ctx, _argv: &[&[u8]]) {
    const LINES: &[&str] = &[
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "GETNAME",
        "    Return the name of the current connection.",
        "SETNAME <name>",
        "    Assign a name to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Record the client library's name or version.",
        "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]",
        "    Return information about client connections.",
        "KILL <ip:port> | KILL <option> <value> [<option> <value> [...]]",
        "    Close connections by address, or by ID, ADDR, LADDR, TYPE, USER, SKIPME, MAXAGE.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect the current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Do not change the access time of keys this connection reads.",
        "HELP",
        "    Print this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l);
    }
}
