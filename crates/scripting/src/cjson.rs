//! The `cjson` library (Lua CJSON 2.1 as Redis ships it): `cjson.encode`,
//! `cjson.decode`, `cjson.null`, and the configuration functions.
//!
//! Redis's behaviour kept: an empty table encodes as `{}`; a table whose keys are
//! 1..n (holes allowed) is an array, holes as `null`, unless it is excessively
//! sparse (largest index > 2 × count and > 10: an error); numbers as `%.14g`; `/`
//! escaped as `\/`; nesting deeper than 1000 refused both ways.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

fn rt(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

/// Settings a script may change (`cjson.encode_max_depth(n)` and friends).
#[derive(Debug)]
struct Settings {
    encode_max_depth: AtomicU32,
    decode_max_depth: AtomicU32,
}

/// `cjson.null`: a light userdata holding NULL.
pub fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// A Lua number as Lua 5.1 prints it (`%.14g`).
pub fn lua_number_text(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.into();
    }
    resp::encode::format_g(n, 14)
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let settings = Arc::new(Settings {
        encode_max_depth: AtomicU32::new(1000),
        decode_max_depth: AtomicU32::new(1000),
    });
    let s = settings.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(rt("bad argument #1 to 'encode' (expected 1 argument)"));
            }
            let mut out = Vec::new();
            encode(&args[0], &mut out, 0, s.encode_max_depth.load(Relaxed))?;
            lua.create_string(&out)
        })?,
    )?;
    let s = settings.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(rt("bad argument #1 to 'decode' (expected 1 argument)"));
            }
            let bytes = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                v @ (Value::Integer(_) | Value::Number(_)) => match lua.coerce_string(v.clone())? {
                    Some(s) => s.as_bytes().to_vec(),
                    None => Vec::new(),
                },
                other => {
                    return Err(rt(format!(
                        "bad argument #1 to 'decode' (string expected, got {})",
                        other.type_name()
                    )))
                }
            };
            let mut d = Decoder {
                s: &bytes,
                pos: 0,
                lua,
                max_depth: s.decode_max_depth.load(Relaxed),
            };
            d.decode_all()
        })?,
    )?;
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    let s = settings.clone();
    t.raw_set(
        "encode_max_depth",
        lua.create_function(move |_, n: Option<u32>| {
            if let Some(n) = n {
                s.encode_max_depth.store(n.max(1), Relaxed);
            }
            Ok(s.encode_max_depth.load(Relaxed))
        })?,
    )?;
    let s = settings;
    t.raw_set(
        "decode_max_depth",
        lua.create_function(move |_, n: Option<u32>| {
            if let Some(n) = n {
                s.decode_max_depth.store(n.max(1), Relaxed);
            }
            Ok(s.decode_max_depth.load(Relaxed))
        })?,
    )?;
    for (name, default) in [
        ("encode_number_precision", 14.0),
        ("encode_keep_buffer", 1.0),
        ("encode_invalid_numbers", 0.0),
        ("decode_invalid_numbers", 1.0),
    ] {
        t.raw_set(
            name,
            lua.create_function(move |_, _: MultiValue| Ok(default))?,
        )?;
    }
    t.raw_set(
        "encode_sparse_array",
        lua.create_function(|_, _: MultiValue| Ok((false, 2, 10)))?,
    )?;
    crate::with_positions(lua, &t)?;
    Ok(t)
}

fn escape_into(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => {
                out.extend_from_slice(format!("\\u{:04x}", c).as_bytes());
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

fn encode_number(n: f64, out: &mut Vec<u8>) -> mlua::Result<()> {
    if !n.is_finite() {
        return Err(rt("Cannot serialise number: must not be NaN or Inf"));
    }
    out.extend_from_slice(lua_number_text(n).as_bytes());
    Ok(())
}

/// A table being written: an array (next index) or an object (its pairs, next one).
enum Open {
    Arr {
        t: Table,
        len: usize,
        next: usize,
    },
    Obj {
        pairs: Vec<(Value, Value)>,
        next: usize,
    },
}

fn encode_key(k: &Value, out: &mut Vec<u8>) -> mlua::Result<()> {
    match k {
        Value::String(s) => escape_into(&s.as_bytes(), out),
        Value::Integer(n) => escape_into(lua_number_text(*n as f64).as_bytes(), out),
        Value::Number(n) => escape_into(lua_number_text(*n).as_bytes(), out),
        other => {
            return Err(rt(format!(
                "Cannot serialise {}: table key must be a number or string",
                other.type_name()
            )))
        }
    }
    Ok(())
}

/// Encodes `v` without recursion (nesting is bounded by `max`, not by the stack).
fn encode(v: &Value, out: &mut Vec<u8>, _depth: u32, max: u32) -> mlua::Result<()> {
    let mut stack: Vec<Open> = Vec::new();
    let mut cur = Some(v.clone());
    loop {
        if let Some(v) = cur.take() {
            match v {
                Value::Nil => out.extend_from_slice(b"null"),
                Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
                Value::Boolean(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
                Value::Integer(n) => encode_number(n as f64, out)?,
                Value::Number(n) => encode_number(n, out)?,
                Value::String(s) => escape_into(&s.as_bytes(), out),
                Value::Table(t) => {
                    let depth = stack.len() as u32 + 1;
                    if depth > max {
                        return Err(rt(format!("Cannot serialise, excessive nesting ({depth})")));
                    }
                    match array_length(&t)? {
                        Some(len) if len > 0 => {
                            out.push(b'[');
                            stack.push(Open::Arr { t, len, next: 1 });
                        }
                        _ => {
                            out.push(b'{');
                            let pairs = t.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
                            stack.push(Open::Obj { pairs, next: 0 });
                        }
                    }
                }
                other => {
                    return Err(rt(format!(
                        "Cannot serialise {}: type not supported",
                        other.type_name()
                    )))
                }
            }
        }
        let Some(top) = stack.last_mut() else {
            return Ok(());
        };
        match top {
            Open::Arr { t, len, next } => {
                if *next > *len {
                    out.push(b']');
                    stack.pop();
                } else {
                    if *next > 1 {
                        out.push(b',');
                    }
                    cur = Some(t.raw_get(*next)?);
                    *next += 1;
                }
            }
            Open::Obj { pairs, next } => {
                if *next >= pairs.len() {
                    out.push(b'}');
                    stack.pop();
                } else {
                    if *next > 0 {
                        out.push(b',');
                    }
                    let (k, val) = pairs[*next].clone();
                    *next += 1;
                    encode_key(&k, out)?;
                    out.push(b':');
                    cur = Some(val);
                }
            }
        }
    }
}

/// Some(n) when the table is an array of length n (0 for an empty table), None when
/// it is an object. Excessively sparse arrays are an error, as Redis configures cjson.
fn array_length(t: &Table) -> mlua::Result<Option<usize>> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n < 1.0 || n.floor() != n || n > 1e15 {
            return Ok(None);
        }
        max = max.max(n as usize);
        items += 1;
    }
    if max > items * 2 && max > 10 {
        return Err(rt("Cannot serialise table: excessively sparse array"));
    }
    Ok(Some(max))
}

struct Decoder<'a> {
    s: &'a [u8],
    pos: usize,
    lua: &'a Lua,
    max_depth: u32,
}

/// A token as cjson names it in errors.
#[derive(Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num,
    Bool,
    Null,
    Colon,
    Comma,
    End,
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Num => "T_NUMBER",
            Tok::Bool => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
        }
    }
}

/// A token with its value (strings, numbers, booleans).
enum TokVal {
    None,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
}

impl Decoder<'_> {
    fn decode_all(&mut self) -> mlua::Result<Value> {
        let (tok, at, val) = self.next_token()?;
        let v = self.value(tok, at, val, 0)?;
        let (tok, at, _) = self.next_token()?;
        if tok != Tok::End {
            return Err(rt(format!(
                "Expected the end but found {} at character {}",
                tok.name(),
                at + 1
            )));
        }
        Ok(v)
    }

    fn err_tok(&self, expected: &str, tok: Tok, at: usize) -> mlua::Error {
        rt(format!(
            "Expected {expected} but found {} at character {}",
            tok.name(),
            at + 1
        ))
    }

    fn bad(&self, what: &str, at: usize) -> mlua::Error {
        rt(format!(
            "Expected value but found {what} at character {}",
            at + 1
        ))
    }

    fn next_token(&mut self) -> mlua::Result<(Tok, usize, TokVal)> {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let at = self.pos;
        let Some(&c) = self.s.get(self.pos) else {
            return Ok((Tok::End, at, TokVal::None));
        };
        let single = |t: Tok| Ok((t, at, TokVal::None));
        match c {
            b'{' => {
                self.pos += 1;
                single(Tok::ObjBegin)
            }
            b'}' => {
                self.pos += 1;
                single(Tok::ObjEnd)
            }
            b'[' => {
                self.pos += 1;
                single(Tok::ArrBegin)
            }
            b']' => {
                self.pos += 1;
                single(Tok::ArrEnd)
            }
            b':' => {
                self.pos += 1;
                single(Tok::Colon)
            }
            b',' => {
                self.pos += 1;
                single(Tok::Comma)
            }
            b'"' => {
                let s = self.string(at)?;
                Ok((Tok::Str, at, TokVal::Str(s)))
            }
            b'-' | b'0'..=b'9' => {
                let n = self.number(at)?;
                Ok((Tok::Num, at, TokVal::Num(n)))
            }
            _ => {
                for (word, tok, val) in [
                    (&b"true"[..], Tok::Bool, TokVal::Bool(true)),
                    (b"false", Tok::Bool, TokVal::Bool(false)),
                    (b"null", Tok::Null, TokVal::None),
                ] {
                    if self.s[self.pos..].starts_with(word) {
                        self.pos += word.len();
                        return Ok((tok, at, val));
                    }
                }
                Err(self.bad("invalid token", at))
            }
        }
    }

    fn number(&mut self, at: usize) -> mlua::Result<f64> {
        let mut end = self.pos;
        while end < self.s.len()
            && matches!(self.s[end], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        {
            end += 1;
        }
        let text = std::str::from_utf8(&self.s[self.pos..end]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(n) => {
                self.pos = end;
                Ok(n)
            }
            Err(_) => Err(self.bad("invalid number", at)),
        }
    }

    fn hex4(&self, i: usize) -> Option<u32> {
        let h = self.s.get(i..i + 4)?;
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    }

    fn string(&mut self, at: usize) -> mlua::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut i = self.pos + 1;
        loop {
            let Some(&c) = self.s.get(i) else {
                return Err(self.bad("unexpected end of string", i));
            };
            match c {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(out);
                }
                b'\\' => {
                    let Some(&e) = self.s.get(i + 1) else {
                        return Err(self.bad("invalid escape code", at));
                    };
                    i += 2;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let Some(mut cp) = self.hex4(i) else {
                                return Err(self.bad("invalid unicode escape code", at));
                            };
                            i += 4;
                            if (0xD800..0xDC00).contains(&cp) {
                                // A surrogate pair.
                                if self.s.get(i..i + 2) != Some(b"\\u") {
                                    return Err(self.bad("invalid unicode escape code", at));
                                }
                                let Some(lo) = self.hex4(i + 2) else {
                                    return Err(self.bad("invalid unicode escape code", at));
                                };
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.bad("invalid unicode escape code", at));
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                i += 6;
                            } else if (0xDC00..0xE000).contains(&cp) {
                                return Err(self.bad("invalid unicode escape code", at));
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.bad("invalid escape code", at)),
                    }
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }

    /// Reads one JSON value without recursion: open arrays and objects are kept on
    /// an explicit stack (nesting is bounded by `max_depth`, not by the stack).
    fn value(&mut self, tok: Tok, at: usize, val: TokVal, _depth: u32) -> mlua::Result<Value> {
        enum Frame {
            Arr(Table, usize),
            Obj(Table, Vec<u8>),
        }
        let lua = self.lua;
        let mut stack: Vec<Frame> = Vec::new();
        let mut next = Some((tok, at, val));
        loop {
            // Read a value (or open a container).
            let (tok, at, val) = match next.take() {
                Some(t) => t,
                None => self.next_token()?,
            };
            let mut v = match (tok, val) {
                (Tok::Str, TokVal::Str(s)) => Value::String(lua.create_string(&s)?),
                (Tok::Num, TokVal::Num(n)) => Value::Number(n),
                (Tok::Bool, TokVal::Bool(b)) => Value::Boolean(b),
                (Tok::Null, _) => null(),
                (Tok::ArrBegin, _) | (Tok::ObjBegin, _) => {
                    let depth = stack.len() as u32 + 1;
                    if depth > self.max_depth {
                        return Err(rt(format!(
                            "Found too many nested data structures ({depth}) at character {}",
                            at + 1
                        )));
                    }
                    let t = lua.create_table()?;
                    let (t2, at2, val2) = self.next_token()?;
                    if tok == Tok::ArrBegin {
                        if t2 == Tok::ArrEnd {
                            Value::Table(t)
                        } else {
                            stack.push(Frame::Arr(t, 1));
                            next = Some((t2, at2, val2));
                            continue;
                        }
                    } else if t2 == Tok::ObjEnd {
                        Value::Table(t)
                    } else {
                        let key = self.key(t2, at2, val2)?;
                        stack.push(Frame::Obj(t, key));
                        continue;
                    }
                }
                (t, _) => return Err(self.err_tok("value", t, at)),
            };
            // Hand it to the open container; close containers as they end.
            loop {
                match stack.last_mut() {
                    None => return Ok(v),
                    Some(Frame::Arr(t, i)) => {
                        t.raw_set(*i, std::mem::replace(&mut v, Value::Nil))?;
                        *i += 1;
                        let (sep, sat, _) = self.next_token()?;
                        match sep {
                            Tok::Comma => break,
                            Tok::ArrEnd => {}
                            other => return Err(self.err_tok("comma or array end", other, sat)),
                        }
                    }
                    Some(Frame::Obj(t, key)) => {
                        t.raw_set(
                            lua.create_string(&*key)?,
                            std::mem::replace(&mut v, Value::Nil),
                        )?;
                        let (sep, sat, _) = self.next_token()?;
                        match sep {
                            Tok::Comma => {
                                let (kt, kat, kv) = self.next_token()?;
                                *key = self.key(kt, kat, kv)?;
                                break;
                            }
                            Tok::ObjEnd => {}
                            other => return Err(self.err_tok("comma or object end", other, sat)),
                        }
                    }
                }
                // The container ended: it is the value for the one below.
                v = match stack.pop() {
                    Some(Frame::Arr(t, _)) | Some(Frame::Obj(t, _)) => Value::Table(t),
                    None => Value::Nil,
                };
            }
        }
    }

    /// An object key and the colon after it.
    fn key(&mut self, tok: Tok, at: usize, val: TokVal) -> mlua::Result<Vec<u8>> {
        let TokVal::Str(key) = val else {
            return Err(self.err_tok("object key string", tok, at));
        };
        let (colon, cat, _) = self.next_token()?;
        if colon != Tok::Colon {
            return Err(self.err_tok("colon", colon, cat));
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str) -> Result<String, String> {
        let lua = Lua::new();
        lua.globals().set("cjson", open(&lua).unwrap()).unwrap();
        let v: Value = lua.load(code).eval().map_err(|e| e.to_string())?;
        Ok(match lua.coerce_string(v).unwrap() {
            Some(s) => s.to_string_lossy(),
            None => "nil".into(),
        })
    }

    /// Outputs taken from redis-server 7.0's cjson.
    #[test]
    fn encode_as_redis() {
        assert_eq!(eval("return cjson.encode({})").unwrap(), "{}");
        assert_eq!(
            eval("return cjson.encode({1,2,nil,4})").unwrap(),
            "[1,2,null,4]"
        );
        assert_eq!(
            eval("return cjson.encode({[1]=1,[5]=2})").unwrap(),
            "[1,null,null,null,2]"
        );
        assert_eq!(
            eval("return cjson.encode({a={b='x/y'}})").unwrap(),
            r#"{"a":{"b":"x\/y"}}"#
        );
        assert_eq!(
            eval("return cjson.encode(1/3)").unwrap(),
            "0.33333333333333"
        );
        assert_eq!(
            eval("return cjson.encode('a\\n\\1')").unwrap(),
            r#""a\n\u0001""#
        );
        assert_eq!(eval("return cjson.encode(cjson.null)").unwrap(), "null");
        assert_eq!(eval("return cjson.encode(true)").unwrap(), "true");
        assert!(eval("return cjson.encode({[20]=1})")
            .unwrap_err()
            .contains("Cannot serialise table: excessively sparse array"));
        assert!(eval("return cjson.encode(function() end)")
            .unwrap_err()
            .contains("Cannot serialise function: type not supported"));
        assert!(eval("return cjson.encode(1/0)")
            .unwrap_err()
            .contains("Cannot serialise number: must not be NaN or Inf"));
    }

    #[test]
    fn decode_as_redis() {
        assert_eq!(eval(r#"return cjson.decode('[1,2,"x"]')[3]"#).unwrap(), "x");
        assert_eq!(
            eval(r#"return cjson.decode('{"a":{"b":[10]}}').a.b[1]"#).unwrap(),
            "10"
        );
        assert_eq!(
            eval(r#"return cjson.decode('null') == cjson.null and 'y'"#).unwrap(),
            "y"
        );
        assert_eq!(eval(r#"return cjson.decode('"\\u00e9"')"#).unwrap(), "é");
        assert_eq!(
            eval(r#"return cjson.decode('"\\ud83d\\ude00"')"#).unwrap(),
            "😀"
        );
        assert!(eval("return cjson.decode('')")
            .unwrap_err()
            .contains("Expected value but found T_END at character 1"));
        assert!(eval("return cjson.decode('[1,')")
            .unwrap_err()
            .contains("Expected value but found T_END at character 4"));
        assert!(eval("return cjson.decode('[1 2]')")
            .unwrap_err()
            .contains("Expected comma or array end but found T_NUMBER at character 4"));
        assert!(eval("return cjson.decode('{1:2}')")
            .unwrap_err()
            .contains("Expected object key string but found T_NUMBER at character 2"));
        assert!(eval("return cjson.decode('x')")
            .unwrap_err()
            .contains("Expected value but found invalid token at character 1"));
        assert!(eval("return cjson.decode('[1] 2')")
            .unwrap_err()
            .contains("Expected the end but found T_NUMBER at character 5"));
        // Round trip.
        assert_eq!(
            eval(r#"return cjson.encode(cjson.decode('{"k":[1,2.5,"s",true,null]}'))"#).unwrap(),
            r#"{"k":[1,2.5,"s",true,null]}"#
        );
    }
}
