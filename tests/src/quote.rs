//! Splitting a command line into arguments with redis-cli's quoting rules.
//!
//! * Arguments are separated by spaces or tabs.
//! * `"..."` allows the escapes `\n \r \t \b \a \\ \"` and `\xHH` (two hex digits); any
//!   other escaped character stands for itself.
//! * `'...'` takes everything literally except `\'`.
//! * A closing quote must be followed by whitespace or the end of the line.

/// Splits `line` into arguments; `Err` names the problem (unbalanced quotes, a closing
/// quote glued to the next word).
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let b = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i >= b.len() {
            return Ok(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                let Some(&c) = b.get(i) else {
                    return Err("unbalanced double quote".into());
                };
                let hex = (c == b'\\' && i + 3 < b.len() && b[i + 1] == b'x')
                    .then(|| hex_pair(b[i + 2], b[i + 3]))
                    .flatten();
                if let Some(h) = hex {
                    cur.push(h);
                    i += 4;
                } else if c == b'\\' && i + 1 < b.len() {
                    cur.push(match b[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    i += 2;
                } else if c == b'"' {
                    i += 1;
                    if i < b.len() && b[i] != b' ' && b[i] != b'\t' {
                        return Err("closing double quote must be followed by a space".into());
                    }
                    args.push(std::mem::take(&mut cur));
                    break;
                } else {
                    cur.push(c);
                    i += 1;
                }
            } else if in_sq {
                let Some(&c) = b.get(i) else {
                    return Err("unbalanced single quote".into());
                };
                if c == b'\\' && b.get(i + 1) == Some(&b'\'') {
                    cur.push(b'\'');
                    i += 2;
                } else if c == b'\'' {
                    i += 1;
                    if i < b.len() && b[i] != b' ' && b[i] != b'\t' {
                        return Err("closing single quote must be followed by a space".into());
                    }
                    args.push(std::mem::take(&mut cur));
                    break;
                } else {
                    cur.push(c);
                    i += 1;
                }
            } else {
                match b.get(i) {
                    None | Some(b' ') | Some(b'\t') => {
                        args.push(std::mem::take(&mut cur));
                        break;
                    }
                    Some(b'"') if cur.is_empty() => {
                        in_dq = true;
                        i += 1;
                    }
                    Some(b'\'') if cur.is_empty() => {
                        in_sq = true;
                        i += 1;
                    }
                    Some(&c) => {
                        cur.push(c);
                        i += 1;
                    }
                }
            }
        }
    }
}

fn hex_pair(h: u8, l: u8) -> Option<u8> {
    let v = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    Some(v(h)? * 16 + v(l)?)
}

#[cfg(test)]
mod tests {
    use super::split_args;

    fn s(line: &str) -> Vec<String> {
        split_args(line)
            .expect("valid line")
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect()
    }

    #[test]
    fn plain_and_quoted() {
        assert_eq!(s("SET  k\tv"), ["SET", "k", "v"]);
        assert_eq!(s(r#"SET "a b" 'c d'"#), ["SET", "a b", "c d"]);
        assert_eq!(s(r#"ECHO "" ''"#), ["ECHO", "", ""]);
        assert_eq!(s(r#"ECHO "\x41\n\"" 'it\'s'"#), ["ECHO", "A\n\"", "it's"]);
        assert_eq!(s(r#"ECHO "\xZZ""#), ["ECHO", "xZZ"]);
        assert_eq!(s("   "), Vec::<String>::new());
    }

    #[test]
    fn errors() {
        assert!(split_args(r#"ECHO "abc"#).is_err());
        assert!(split_args("ECHO 'abc").is_err());
        assert!(split_args(r#"ECHO "a"b"#).is_err());
    }
}
