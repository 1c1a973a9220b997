//! Readable one-line rendering of reply frames for test failure messages.

use resp::Frame;

/// Longest rendering [`show`] returns; the rest is cut with a note.
const MAX_SHOWN: usize = 4000;

/// Renders a frame on one line with its type visible: `"bulk"`, `+simple`, `-error`,
/// `:1`, `(nil-bulk)`, `[a, b]` for arrays, `~[..]` sets, `{k => v}` maps, `,1.5` doubles.
pub fn show(f: &Frame) -> String {
    let mut s = String::new();
    render(f, &mut s);
    if s.len() > MAX_SHOWN {
        let mut cut = MAX_SHOWN;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        let total = s.len();
        s.truncate(cut);
        s.push_str(&format!("... ({total} chars)"));
    }
    s
}

/// Quotes bytes as redis-cli does: printable ASCII as is, the rest escaped.
pub fn quote_bytes(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn render(f: &Frame, s: &mut String) {
    match f {
        Frame::Simple(b) => {
            s.push('+');
            s.push_str(&text(b));
        }
        Frame::Error(b) => {
            s.push('-');
            s.push_str(&text(b));
        }
        Frame::Integer(n) => s.push_str(&format!(":{n}")),
        Frame::Bulk(b) => s.push_str(&quote_bytes(b)),
        Frame::NullBulk => s.push_str("(nil-bulk)"),
        Frame::NullArray => s.push_str("(nil-array)"),
        Frame::Null => s.push_str("(null)"),
        Frame::Double(b) => {
            s.push(',');
            s.push_str(&text(b));
        }
        Frame::Boolean(v) => s.push_str(if *v { "#t" } else { "#f" }),
        Frame::BigNumber(b) => {
            s.push('(');
            s.push_str(&text(b));
        }
        Frame::Verbatim { format, text: t } => {
            s.push_str(&format!("={}:", text(format)));
            s.push_str(&quote_bytes(t));
        }
        Frame::Array(items) => list(s, "[", items),
        Frame::Set(items) => list(s, "~[", items),
        Frame::Push(items) => list(s, ">[", items),
        Frame::Map(pairs) => map(s, "{", pairs),
        Frame::Attribute { attrs, value } => {
            map(s, "|{", attrs);
            s.push(' ');
            render(value, s);
        }
    }
}

fn list(s: &mut String, open: &str, items: &[Frame]) {
    s.push_str(open);
    for (i, f) in items.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        render(f, s);
    }
    s.push(']');
}

fn map(s: &mut String, open: &str, pairs: &[(Frame, Frame)]) {
    s.push_str(open);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        render(k, s);
        s.push_str(" => ");
        render(v, s);
    }
    s.push('}');
}
