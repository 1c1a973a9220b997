//! Script flags and the first line that declares them: `#!lua flags=no-writes,allow-oom`
//! for EVAL scripts, `#!lua name=mylib` for function libraries.

/// Flags a script or function declares (Redis's `SCRIPT_FLAG_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags(pub u8);

impl ScriptFlags {
    pub const NO_WRITES: u8 = 1;
    pub const ALLOW_OOM: u8 = 2;
    pub const ALLOW_STALE: u8 = 4;
    pub const NO_CLUSTER: u8 = 8;
    pub const ALLOW_CROSS_SLOT: u8 = 16;
    /// An EVAL script without a shebang: Redis's backwards-compatible mode (writes
    /// allowed, checked per command; `*_RO` refuses writes as they come).
    pub const EVAL_COMPAT: u8 = 128;

    pub fn has(self, f: u8) -> bool {
        self.0 & f != 0
    }

    /// The flag names, in Redis's order (FUNCTION LIST).
    pub fn names(self) -> Vec<&'static str> {
        FLAG_NAMES
            .iter()
            .filter(|(f, _)| self.has(*f))
            .map(|(_, n)| *n)
            .collect()
    }
}

/// Every flag a script may declare, by name.
pub const FLAG_NAMES: &[(u8, &str)] = &[
    (ScriptFlags::NO_WRITES, "no-writes"),
    (ScriptFlags::ALLOW_OOM, "allow-oom"),
    (ScriptFlags::ALLOW_STALE, "allow-stale"),
    (ScriptFlags::NO_CLUSTER, "no-cluster"),
    (ScriptFlags::ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
];

/// The flag named `name`, if it is one.
pub fn flag_by_name(name: &[u8]) -> Option<u8> {
    FLAG_NAMES
        .iter()
        .find(|(_, n)| n.as_bytes() == name)
        .map(|(f, _)| *f)
}

/// An EVAL script's flags, and where its Lua code starts (the shebang line is cut,
/// its newline kept so that line numbers stay right). Errors are whole replies.
pub fn eval_flags(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags(ScriptFlags::EVAL_COMPAT), 0));
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = &body[..end];
    let mut parts = line.split(|&c| c == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or(b"#!");
    if engine != b"#!lua" {
        return Err(format!(
            "ERR Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(engine)
        ));
    }
    let mut flags = 0u8;
    for part in parts {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!(
                "ERR Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            ));
        };
        for name in list.split(|&c| c == b',').filter(|n| !n.is_empty()) {
            match flag_by_name(name) {
                Some(f) => flags |= f,
                None => {
                    return Err(format!(
                        "ERR Unexpected flag in script shebang: {}",
                        String::from_utf8_lossy(name)
                    ))
                }
            }
        }
    }
    Ok((ScriptFlags(flags), end))
}

/// A library's metadata line: its engine (must be Lua) and name. Returns the name
/// and where the code starts.
pub fn library_meta(code: &[u8]) -> Result<(String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let end = code.iter().position(|&c| c == b'\n').unwrap_or(code.len());
    let line = &code[2..end];
    let mut parts = line.split(|&c| c == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or(b"");
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "ERR Engine '{}' not found",
            String::from_utf8_lossy(engine)
        ));
    }
    let mut name: Option<&[u8]> = None;
    for part in parts {
        match part.strip_prefix(b"name=") {
            Some(n) => {
                if name.is_some() {
                    return Err(
                        "ERR Invalid metadata value, name argument was given multiple times".into(),
                    );
                }
                name = Some(n);
            }
            None => {
                return Err(format!(
                    "ERR Invalid metadata value given: {}",
                    String::from_utf8_lossy(part)
                ))
            }
        }
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if !valid_name(name) {
        return Err(format!("ERR {LIBRARY_NAME_RULE}"));
    }
    Ok((String::from_utf8_lossy(name).into_owned(), end))
}

/// What a library's name must look like.
pub const LIBRARY_NAME_RULE: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";
/// What a function's name must look like.
pub const FUNCTION_NAME_RULE: &str = "Function names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Letters, digits and underscores, at least one.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_shebangs_parse_as_redis_does() {
        assert_eq!(
            eval_flags(b"return 1"),
            Ok((ScriptFlags(ScriptFlags::EVAL_COMPAT), 0))
        );
        assert_eq!(eval_flags(b"#!lua\nreturn 1"), Ok((ScriptFlags(0), 5)));
        let (f, at) = eval_flags(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(f.has(ScriptFlags::NO_WRITES) && f.has(ScriptFlags::ALLOW_OOM));
        assert_eq!(at, 31);
        assert_eq!(
            eval_flags(b"#!lua flags=\nx").map(|r| r.0),
            Ok(ScriptFlags(0))
        );
        assert_eq!(
            eval_flags(b"#!lua flags=bad\nx"),
            Err("ERR Unexpected flag in script shebang: bad".into())
        );
        assert_eq!(
            eval_flags(b"#!luax\nx"),
            Err("ERR Unexpected engine in script shebang: #!luax".into())
        );
        assert_eq!(
            eval_flags(b"#!lua name=x\nx"),
            Err("ERR Unknown lua shebang option: name=x".into())
        );
        assert_eq!(
            eval_flags(b"#!lua"),
            Err("ERR Invalid script shebang".into())
        );
    }

    #[test]
    fn library_metadata() {
        assert_eq!(
            library_meta(b"#!lua name=lib\ncode"),
            Ok(("lib".to_string(), 14))
        );
        assert_eq!(library_meta(b"#!LUA name=up"), Ok(("up".to_string(), 13)));
        assert_eq!(
            library_meta(b"return 1"),
            Err("ERR Missing library metadata".into())
        );
        assert_eq!(
            library_meta(b"#!js name=x\n"),
            Err("ERR Engine 'js' not found".into())
        );
        assert_eq!(
            library_meta(b"#!lua\n"),
            Err("ERR Library name was not given".into())
        );
        assert!(library_meta(b"#!lua name=a-b\n").is_err());
        assert!(library_meta(b"#!lua name=x foo=1\n").is_err());
    }
}
