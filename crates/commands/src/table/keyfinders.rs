//! Key finders for commands whose key positions depend on their arguments.
//!
//! Each returns the positions (in the full argv, `argv[0]` being the command name) that
//! `COMMAND GETKEYS` reports in Redis 7.0 for valid input. For input the command will
//! reject (a bad `numkeys`, an unbalanced STREAMS list, ...) they return `None`:
//! dispatch then locks every shard and the handler reports the error itself.

use resp::decode::parse_ll;

fn eq(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// `numkeys` at `argv[at]` followed by that many keys. `min` is the smallest count the
/// command accepts (0 for scripts, which may take no keys).
fn numkeys(argv: &[&[u8]], at: usize, min: i64) -> Option<Vec<usize>> {
    let n = parse_ll(argv.get(at)?)?;
    if n < min {
        return None;
    }
    let first = at + 1;
    // Redis checks the count against the arguments present before trusting it.
    let n = usize::try_from(n).ok()?;
    if n > argv.len().saturating_sub(first) {
        return None;
    }
    Some((first..first + n).collect())
}

/// DEBUG: `DEBUG OBJECT key` reads a key (its shard must be locked); no other
/// subcommand touches one. Not reported by COMMAND GETKEYS (DEBUG has no key specs,
/// as in Redis).
pub fn debug(argv: &[&[u8]]) -> Option<Vec<usize>> {
    Some(if argv.len() == 3 && eq(argv[1], "object") {
        vec![2]
    } else {
        Vec::new()
    })
}

/// EVAL, EVALSHA, their _RO variants and FCALL/FCALL_RO: `<script> numkeys key...`.
pub fn script(argv: &[&[u8]]) -> Option<Vec<usize>> {
    numkeys(argv, 2, 0)
}

/// ZUNION, ZINTER, ZDIFF, ZINTERCARD, SINTERCARD, LMPOP, ZMPOP: `numkeys key...` first.
pub fn numkeys_at_1(argv: &[&[u8]]) -> Option<Vec<usize>> {
    numkeys(argv, 1, 1)
}

/// BLMPOP, BZMPOP: `timeout numkeys key...`.
pub fn numkeys_at_2(argv: &[&[u8]]) -> Option<Vec<usize>> {
    numkeys(argv, 2, 1)
}

/// ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE: `destination numkeys key...`.
pub fn dest_and_numkeys(argv: &[&[u8]]) -> Option<Vec<usize>> {
    let mut keys = numkeys(argv, 2, 1)?;
    keys.insert(0, 1);
    Some(keys)
}

/// XREAD and XREADGROUP: the keys are the first half of what follows STREAMS. The
/// options before STREAMS are skipped by their arity so that a group, consumer or
/// option value spelled "streams" is not mistaken for the keyword.
pub fn xread(argv: &[&[u8]]) -> Option<Vec<usize>> {
    let mut i = 1;
    let streams = loop {
        let a = argv.get(i)?;
        if eq(a, "count") || eq(a, "block") {
            i += 2;
        } else if eq(a, "group") {
            i += 3;
        } else if eq(a, "noack") {
            i += 1;
        } else if eq(a, "streams") {
            break i;
        } else {
            return None;
        }
    };
    let rest = argv.len() - streams - 1;
    if rest == 0 || rest % 2 == 1 {
        return None;
    }
    Some((streams + 1..streams + 1 + rest / 2).collect())
}

/// MIGRATE: `host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw]
/// [KEYS key...]`. With KEYS, the keys are the arguments after it and the single-key
/// slot must be empty.
pub fn migrate(argv: &[&[u8]]) -> Option<Vec<usize>> {
    let mut i = 6;
    while i < argv.len() {
        let a = argv[i];
        if eq(a, "keys") {
            if !argv.get(3)?.is_empty() || i + 1 == argv.len() {
                return None;
            }
            return Some((i + 1..argv.len()).collect());
        }
        i += if eq(a, "auth") {
            2
        } else if eq(a, "auth2") {
            3
        } else {
            1
        };
    }
    // The single-key form (an empty key name is still a key here).
    (argv.len() > 3).then(|| vec![3])
}

/// SORT: the sorted key, plus the STORE destination. Like Redis, options are skipped
/// by their arity (LIMIT 2, BY and GET 1) and the last STORE wins. The keys that BY
/// and GET patterns read are unknown until the command runs (SORT runs with every
/// shard locked).
pub fn sort(argv: &[&[u8]]) -> Option<Vec<usize>> {
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if eq(a, "limit") {
            i += 2;
        } else if eq(a, "get") || eq(a, "by") {
            i += 1;
        } else if eq(a, "store") && i + 1 < argv.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    let mut keys = vec![1];
    keys.extend(store);
    Some(keys)
}

/// SORT_RO: only the sorted key (its BY/GET keys are unknown until it runs).
pub fn first_only(argv: &[&[u8]]) -> Option<Vec<usize>> {
    if argv.len() > 1 {
        Some(vec![1])
    } else {
        None
    }
}

/// GEORADIUS (options from argument 6) and GEORADIUSBYMEMBER (from 5): the source
/// key, then the STORE destination, then the STOREDIST destination, as Redis's key
/// specs order them. A repeated STORE or STOREDIST is refused: Redis would report the
/// first while the command writes the last.
pub fn georadius(argv: &[&[u8]]) -> Option<Vec<usize>> {
    let start = if eq(argv.first()?, "georadiusbymember") {
        5
    } else {
        6
    };
    let (mut store, mut storedist) = (None, None);
    let mut i = start;
    while i < argv.len() {
        let a = argv[i];
        let slot = if eq(a, "store") {
            &mut store
        } else if eq(a, "storedist") {
            &mut storedist
        } else {
            i += 1;
            continue;
        };
        if slot.is_some() || i + 1 >= argv.len() {
            return None;
        }
        *slot = Some(i + 1);
        i += 2;
    }
    let mut keys = vec![1];
    keys.extend(store);
    keys.extend(storedist);
    Some(keys)
}

/// Sharded pub/sub commands: their arguments are channels, not keys (Redis marks the
/// key specs `not_key`), so nothing needs locking.
pub fn none(_argv: &[&[u8]]) -> Option<Vec<usize>> {
    Some(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<&[u8]> {
        s.split(' ').map(str::as_bytes).collect()
    }

    #[test]
    fn numkeys_bounds() {
        assert_eq!(script(&argv("EVAL s 0")), Some(vec![]));
        assert_eq!(script(&argv("EVAL s 2 a b c")), Some(vec![3, 4]));
        assert_eq!(script(&argv("EVAL s 3 a b")), None);
        assert_eq!(script(&argv("EVAL s -1 a")), None);
        assert_eq!(script(&argv("EVAL s 01 a")), None);
        assert_eq!(numkeys_at_1(&argv("ZUNION 0 a")), None);
        assert_eq!(numkeys_at_1(&argv("ZUNION 99999999999999999999 a")), None);
        assert_eq!(numkeys_at_2(&argv("BLMPOP 0 2 a b LEFT")), Some(vec![3, 4]));
        assert_eq!(numkeys_at_2(&argv("BZMPOP 0 0 a MIN")), None);
        assert_eq!(dest_and_numkeys(&argv("ZUNIONSTORE d 0 a")), None);
        assert_eq!(
            dest_and_numkeys(&argv("ZUNIONSTORE d 2 a b")),
            Some(vec![1, 3, 4])
        );
    }

    #[test]
    fn xread_skips_options() {
        assert_eq!(
            xread(&argv("XREAD COUNT streams STREAMS a 0")),
            Some(vec![4])
        );
        assert_eq!(xread(&argv("XREAD STREAMS a b 0")), None);
        assert_eq!(xread(&argv("XREAD BLOCK 0 STREAMS")), None);
        assert_eq!(xread(&argv("XREAD FOO STREAMS a 0")), None);
    }

    #[test]
    fn georadius_repeated_store() {
        assert_eq!(
            georadius(&argv("GEORADIUS s 1 2 3 m STORE a STORE b")),
            None
        );
        assert_eq!(georadius(&argv("GEORADIUS s 1 2 3 m STORE")), None);
        assert_eq!(
            georadius(&argv("GEORADIUS s 1 2 3 m STORE store")),
            Some(vec![1, 7])
        );
    }
}
