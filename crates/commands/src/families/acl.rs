//! ACL: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, LOG, DRYRUN, GENPASS,
//! LOAD, SAVE, HELP. Users and their checks live in [`crate::acl`].

use crate::acl::{self, Denied};
use crate::ctx::Ctx;
use crate::errors;
use crate::families::util::parse_i64;
use crate::registry::registry;
use crate::spec::{acl as cat, Handler};

pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("acl|setuser", setuser),
        ("acl|getuser", getuser),
        ("acl|deluser", deluser),
        ("acl|list", list),
        ("acl|users", users),
        ("acl|whoami", whoami),
        ("acl|cat", acl_cat),
        ("acl|log", log),
        ("acl|dryrun", dryrun),
        ("acl|genpass", genpass),
        ("acl|load", no_file),
        ("acl|save", no_file),
        ("acl|help", help),
    ]
}

/// Rules a tenant may not apply to its default user: its credentials are the
/// database's password, which the operator manages.
fn touches_credentials(rule: &[u8]) -> bool {
    let r = rule.to_ascii_lowercase();
    matches!(
        r.as_slice(),
        b"on" | b"off" | b"nopass" | b"resetpass" | b"reset"
    ) || matches!(r.first(), Some(b'>' | b'<' | b'#' | b'!'))
}

fn setuser(ctx: &mut Ctx, argv: &[&[u8]]) {
    let name = String::from_utf8_lossy(argv[2]).into_owned();
    let rules = &argv[3..];
    if ctx.inst.limits.tenant() && name == "default" {
        if let Some(r) = rules.iter().find(|r| touches_credentials(r)) {
            return ctx.error(&errors::acl_setuser(
                r,
                errors::ACL_TENANT_DEFAULT_CREDENTIALS,
            ));
        }
    }
    let all_channels = ctx.inst.config.read().acl_pubsub_default_all;
    match ctx.inst.acl.set_user(&name, rules, all_channels) {
        Ok(()) => {
            kill_pubsub_clients_if_needed(ctx, &name);
            ctx.out.ok()
        }
        Err((i, why)) => ctx.error(&errors::acl_setuser(rules[i], why)),
    }
}

/// Closes the connections of `name` subscribed to a channel or pattern the user may no
/// longer use, as Redis's ACL SETUSER does.
fn kill_pubsub_clients_if_needed(ctx: &mut Ctx, name: &str) {
    let Some(u) = ctx.inst.acl.user(name) else {
        return;
    };
    if u.allchannels {
        return;
    }
    let me = ctx.client.id();
    let clients: Vec<_> = ctx.inst.clients.lock().values().cloned().collect();
    for c in clients {
        if *c.user.lock() != name || !c.is_pubsub() {
            continue;
        }
        let lost = c
            .subscribed
            .lock()
            .iter()
            .any(|(pattern, n)| !u.channel_allowed(n, *pattern));
        if lost {
            if c.id == me {
                ctx.client.close_after_reply = true;
            } else {
                c.kill();
            }
        }
    }
}

fn getuser(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(u) = ctx.inst.acl.user(&String::from_utf8_lossy(argv[2])) else {
        ctx.out.null();
        return;
    };
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk_str("flags");
    let flags = u.flag_names();
    out.array(flags.len());
    for f in flags {
        out.bulk_str(f);
    }
    out.bulk_str("passwords");
    out.array(u.passwords.len());
    for p in &u.passwords {
        out.bulk_str(p);
    }
    out.bulk_str("commands");
    out.bulk_str(&u.describe_commands());
    out.bulk_str("keys");
    out.bulk_str(&u.describe_keys());
    out.bulk_str("channels");
    out.bulk_str(&u.describe_channels());
    out.bulk_str("selectors");
    out.array(0);
}

fn deluser(ctx: &mut Ctx, argv: &[&[u8]]) {
    let names: Vec<String> = argv[2..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if names.iter().any(|n| n == "default") {
        return ctx.error(errors::ACL_DEFAULT_NOT_REMOVABLE);
    }
    let n = ctx.inst.acl.delete(&names);
    // Connections authenticated as a deleted user are closed, as in Redis.
    for c in ctx.inst.clients.lock().values() {
        let user = c.user.lock().clone();
        if names.contains(&user) {
            if c.id == ctx.client.id() {
                ctx.client.close_after_reply = true;
            } else {
                c.kill();
            }
        }
    }
    ctx.out.int(n as i64);
}

fn list(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let users = ctx.inst.acl.all();
    ctx.out.array(users.len());
    for u in users {
        ctx.out.bulk_str(&u.describe());
    }
}

fn users(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let names = ctx.inst.acl.names();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk_str(&n);
    }
}

fn whoami(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let name = ctx.client.user.clone();
    ctx.out.bulk_str(&name);
}

fn acl_cat(ctx: &mut Ctx, argv: &[&[u8]]) {
    match argv.len() {
        2 => {
            ctx.out.array(cat::NAMES.len());
            for (_, n) in cat::NAMES {
                ctx.out.bulk_str(n);
            }
        }
        3 => {
            let Some(flag) = acl::category(argv[2]) else {
                return ctx.error(&errors::acl_unknown_category(argv[2]));
            };
            let names: Vec<&str> = registry()
                .specs
                .iter()
                .filter(|s| s.acl & flag != 0)
                .map(|s| s.name)
                .collect();
            ctx.out.array(names.len());
            for n in names {
                ctx.out.bulk_str(n);
            }
        }
        _ => ctx.error(&errors::unknown_subcommand_or_arity(argv[0], argv[1])),
    }
}

fn log(ctx: &mut Ctx, argv: &[&[u8]]) {
    let count = match argv.len() {
        2 => 10,
        3 if argv[2].eq_ignore_ascii_case(b"reset") => {
            ctx.inst.acl.log_reset();
            return ctx.out.ok();
        }
        3 => match parse_i64(argv[2]) {
            Some(n) => n.max(0) as usize,
            None => return ctx.error(errors::NOT_INTEGER),
        },
        _ => return ctx.error(&errors::unknown_subcommand_or_arity(argv[0], argv[1])),
    };
    let entries = ctx.inst.acl.log_entries(count);
    let out = &mut *ctx.out;
    out.array(entries.len());
    for e in entries {
        out.map(7);
        out.bulk_str("count");
        out.int(e.count as i64);
        out.bulk_str("reason");
        out.bulk_str(e.reason);
        out.bulk_str("context");
        out.bulk_str(e.context);
        out.bulk_str("object");
        out.bulk_str(&e.object);
        out.bulk_str("username");
        out.bulk_str(&e.username);
        out.bulk_str("age-seconds");
        out.double(e.created.elapsed().as_secs_f64());
        out.bulk_str("client-info");
        out.bulk_str(&e.client_info);
    }
}

fn dryrun(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(user) = ctx.inst.acl.user(&String::from_utf8_lossy(argv[2])) else {
        return ctx.error(&errors::acl_no_user(argv[2]));
    };
    let reg = registry();
    let cmd = &argv[3..];
    let Some(mut id) = reg.lookup(cmd[0]) else {
        return ctx.error(&errors::acl_no_command(cmd[0]));
    };
    if !reg.subcommands(id).is_empty() && cmd.len() > 1 {
        if let Some(sub) = reg.lookup_sub(id, cmd[1]) {
            id = sub;
        }
    }
    let spec = reg.spec(id);
    if !spec.arity_ok(cmd.len()) {
        return ctx.error(&errors::wrong_arity(spec.name));
    }
    match acl::permitted(&user, id, spec, cmd) {
        Ok(()) => ctx.out.ok(),
        Err(Denied::Command) => ctx.out.bulk_str(&format!(
            "This user has no permissions to run the '{}' command",
            spec.name
        )),
        Err(Denied::Key(i)) => ctx.out.bulk_str(&format!(
            "This user has no permissions to access the '{}' key",
            String::from_utf8_lossy(cmd[i])
        )),
        Err(Denied::Channel(i)) => ctx.out.bulk_str(&format!(
            "This user has no permissions to access the '{}' channel",
            String::from_utf8_lossy(cmd[i])
        )),
    }
}

fn genpass(ctx: &mut Ctx, argv: &[&[u8]]) {
    let bits = match argv.len() {
        2 => 256,
        3 => match parse_i64(argv[2]) {
            Some(b) if (1..=4096).contains(&b) => b as usize,
            Some(_) => return ctx.error(errors::ACL_GENPASS_BITS),
            None => return ctx.error(errors::NOT_INTEGER),
        },
        _ => return ctx.error(&errors::unknown_subcommand_or_arity(argv[0], argv[1])),
    };
    let chars = bits.div_ceil(4);
    let mut s = String::with_capacity(chars);
    while s.len() < chars {
        s.push_str(&format!("{:016x}", rand::random::<u64>()));
    }
    s.truncate(chars);
    ctx.out.bulk_str(&s);
}

fn no_file(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.error(errors::ACL_NO_FILE);
}

fn help(ctx: &mut Ctx, _argv: &[&[u8]]) {
    const LINES: &[&str] = &[
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l);
    }
}

#[cfg(test)]
mod tests {
    use crate::families::util::testkit::Kit;

    #[test]
    fn restricted_user_is_refused_commands_and_keys() {
        let mut k = Kit::new();
        assert_eq!(k.run("acl setuser u on >pw ~a* +get +set"), "+OK\r\n");
        assert_eq!(
            k.run("auth u wrong"),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(k.run("auth u pw"), "+OK\r\n");
        assert_eq!(
            k.run("acl whoami"),
            "-NOPERM this user has no permissions to run the 'acl|whoami' command\r\n"
        );
        assert_eq!(k.run("set a1 x"), "+OK\r\n");
        assert_eq!(
            k.run("get b"),
            "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
        );
        assert_eq!(
            k.run("del a1"),
            "-NOPERM this user has no permissions to run the 'del' command\r\n"
        );
        assert!(k.run("info commandstats").starts_with("-NOPERM"));
        // Rights change under a connected client at once.
        assert_eq!(k.run("auth default x"), "+OK\r\n");
        assert_eq!(k.run("acl setuser u +del"), "+OK\r\n");
        assert_eq!(k.run("auth u pw"), "+OK\r\n");
        assert_eq!(k.run("del a1"), ":1\r\n");
        assert_eq!(k.run("auth default x"), "+OK\r\n");
        let log = k.run("acl log");
        assert!(log.starts_with("*5\r\n"), "{log}");
        assert!(log.contains("$6\r\nreason\r\n$3\r\nkey\r\n$7\r\ncontext\r\n$8\r\ntoplevel\r\n$6\r\nobject\r\n$1\r\nb\r\n"), "{log}");
        assert!(log.contains("$4\r\nauth\r\n"));
        assert_eq!(k.run("acl log reset"), "+OK\r\n");
        assert_eq!(k.run("acl log"), "*0\r\n");
    }

    #[test]
    fn exec_rechecks_rights_changed_after_queuing() {
        let mut k = Kit::new();
        k.run("acl setuser q on >pw ~* +multi +exec +get +set");
        k.run("auth q pw");
        assert_eq!(k.run("multi"), "+OK\r\n");
        assert_eq!(k.run("set a 1"), "+QUEUED\r\n");
        assert_eq!(k.run("get a"), "+QUEUED\r\n");
        k.inst
            .acl
            .set_user("q", &[b"-get"], false)
            .expect("rules apply");
        let r = k.run("exec");
        assert_eq!(r, "*2\r\n+OK\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n");
        k.run("auth default x");
        assert!(k
            .run("acl log 1")
            .contains("$7\r\ncontext\r\n$5\r\nmulti\r\n"));
    }

    #[test]
    fn requirepass_is_the_default_users_password() {
        let mut k = Kit::new();
        assert!(!k.inst.needs_auth());
        k.run("config set requirepass secret");
        assert!(k.inst.needs_auth());
        assert_eq!(
            k.run("auth nope"),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(k.run("auth secret"), "+OK\r\n");
        assert_eq!(k.run("auth default secret"), "+OK\r\n");
        k.run("config set requirepass \"\"");
        let r = k.run("acl list");
        assert!(r.contains("user default on #"), "{r}");
    }

    #[test]
    fn tenant_cannot_change_default_credentials() {
        let mut k = Kit::new();
        k.inst.update_config(|c| c.tenant = true);
        let r = k.run("acl setuser default nopass");
        assert!(
            r.starts_with("-ERR Error in ACL SETUSER modifier 'nopass':"),
            "{r}"
        );
        assert_eq!(k.run("acl setuser default -flushall"), "+OK\r\n");
        assert_eq!(k.run("acl setuser t on >x +get ~*"), "+OK\r\n");
    }

    #[test]
    fn dryrun_and_genpass() {
        let mut k = Kit::new();
        k.run("acl setuser d on ~a* +get");
        assert_eq!(k.run("acl dryrun d get a"), "+OK\r\n");
        assert_eq!(
            k.run("acl dryrun d get b"),
            "$50\r\nThis user has no permissions to access the 'b' key\r\n"
        );
        assert_eq!(
            k.run("acl dryrun d del a"),
            "$53\r\nThis user has no permissions to run the 'del' command\r\n"
        );
        assert_eq!(
            k.run("acl dryrun nope get a"),
            "-ERR User 'nope' not found\r\n"
        );
        let a = k.run("acl genpass");
        assert!(a.starts_with("$64\r\n") && a.len() == 5 + 64 + 2, "{a}");
        assert_ne!(a, k.run("acl genpass"));
        assert!(k.run("acl genpass 5").starts_with("$2\r\n"));
        assert!(k.run("acl genpass 0").starts_with("-ERR ACL GENPASS"));
    }
}
