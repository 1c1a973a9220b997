//! Argument parsing and matching shared by command families.

/// Glob matching with Redis's rules: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, and `\` to
/// escape. Used by KEYS, SCAN MATCH, CONFIG GET and PUBSUB patterns.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    // Bound the work of pathological patterns like "*a*a*a*...b".
    let mut budget: u64 = 1 << 22;
    glob_inner(pattern, s, nocase, &mut budget)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn glob_inner(mut p: &[u8], mut s: &[u8], nocase: bool, budget: &mut u64) -> bool {
    while !p.is_empty() {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for i in 0..=s.len() {
                    if glob_inner(&p[1..], &s[i..], nocase, budget) {
                        return true;
                    }
                    if *budget == 0 {
                        return false;
                    }
                }
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
            }
            b'[' => {
                if s.is_empty() {
                    return false;
                }
                let c = s[0];
                let mut i = 1;
                let not = p.get(1) == Some(&b'^');
                if not {
                    i += 1;
                }
                let mut matched = false;
                loop {
                    match p.get(i) {
                        None => {
                            // Unterminated class: Redis treats the end as closing it.
                            i -= 1;
                            break;
                        }
                        Some(b']') => break,
                        Some(b'\\') if i + 1 < p.len() => {
                            i += 1;
                            if eq(p[i], c, nocase) {
                                matched = true;
                            }
                        }
                        Some(&lo) if p.get(i + 1) == Some(&b'-') && i + 2 < p.len() => {
                            let hi = p[i + 2];
                            let (mut lo, mut hi, mut ch) = (lo, hi, c);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            if nocase {
                                lo = lo.to_ascii_lowercase();
                                hi = hi.to_ascii_lowercase();
                                ch = ch.to_ascii_lowercase();
                            }
                            if ch >= lo && ch <= hi {
                                matched = true;
                            }
                            i += 2;
                        }
                        Some(&x) => {
                            if eq(x, c, nocase) {
                                matched = true;
                            }
                        }
                    }
                    i += 1;
                }
                if matched == not {
                    return false;
                }
                p = &p[(i + 1).min(p.len())..];
                s = &s[1..];
                continue;
            }
            b'\\' if p.len() >= 2 => {
                if s.is_empty() || !eq(p[1], s[0], nocase) {
                    return false;
                }
                p = &p[2..];
                s = &s[1..];
                continue;
            }
            c => {
                if s.is_empty() || !eq(c, s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
    }
    s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn globs() {
        assert!(m("*", ""));
        assert!(m("*", "abc"));
        assert!(m("a*", "abc"));
        assert!(!m("a*", "bac"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("*max*", "maxmemory-policy"));
        assert!(glob_match(b"MAXMEMORY", b"maxmemory", true));
        assert!(!glob_match(b"MAXMEMORY", b"maxmemory", false));
        assert!(m("a[", "a["));
        // Pathological patterns end quickly.
        let p = "*a".repeat(30) + "b";
        assert!(!m(&p, &"a".repeat(60)));
    }
}
