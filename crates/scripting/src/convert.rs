//! Conversions between RESP replies and Lua values, as Redis 7.0 makes them.
//!
//! Command reply → Lua (what `redis.call` returns), RESP2 (the default):
//! integer → number, bulk → string, null → `false`, status → `{ok=...}`,
//! error → `{err=...}`, array → table (nested). After `redis.setresp(3)`, also:
//! null → `nil`, map → `{map={...}}`, set → `{set={k=true}}`, double →
//! `{double=n}`, boolean → boolean, big number → `{big_number="..."}`, verbatim →
//! `{verbatim_string={format=..., string=...}}`.
//!
//! Lua → reply (what a script returns): string → bulk, number → integer (truncated
//! as C casts it), `true` → 1, `false` and `nil` → null (booleans once the script
//! chose RESP3), table with `err` / `ok` / `double` / `big_number` / `map` / `set` /
//! `verbatim_string` → that reply, other tables → an array up to the first nil.

use mlua::{Lua, Table, Value};
use resp::{Frame, ReplyWriter};

/// The protocol the script talks to Redis with (`redis.setresp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ScriptResp {
    #[default]
    Resp2,
    Resp3,
}

/// How deep a reply may nest before conversion stops (Lua's stack is the limit in
/// Redis; replies this deep do not occur).
const MAX_DEPTH: usize = 200;

/// A command's reply as a Lua value.
pub fn frame_to_lua(lua: &Lua, f: &Frame, resp: ScriptResp) -> mlua::Result<Value> {
    frame_to_lua_at(lua, f, resp, 0)
}

fn frame_to_lua_at(lua: &Lua, f: &Frame, resp: ScriptResp, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Ok(Value::Nil);
    }
    let tagged = |key: &str, v: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(key, v)?;
        Ok(Value::Table(t))
    };
    Ok(match f {
        Frame::Integer(n) => Value::Number(*n as f64),
        Frame::Bulk(b) => Value::String(lua.create_string(b)?),
        Frame::Simple(s) => tagged("ok", Value::String(lua.create_string(s)?))?,
        Frame::Error(e) => tagged("err", Value::String(lua.create_string(e)?))?,
        Frame::NullBulk | Frame::NullArray => Value::Boolean(false),
        Frame::Null => match resp {
            ScriptResp::Resp2 => Value::Boolean(false),
            ScriptResp::Resp3 => Value::Nil,
        },
        Frame::Array(items) | Frame::Push(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, it) in items.iter().enumerate() {
                t.raw_set(i + 1, frame_to_lua_at(lua, it, resp, depth + 1)?)?;
            }
            Value::Table(t)
        }
        Frame::Map(pairs) => {
            let m = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, v) in pairs {
                let k = frame_to_lua_at(lua, k, resp, depth + 1)?;
                let v = frame_to_lua_at(lua, v, resp, depth + 1)?;
                if !k.is_nil() {
                    m.raw_set(k, v)?;
                }
            }
            tagged("map", Value::Table(m))?
        }
        Frame::Set(items) => {
            let s = lua.create_table_with_capacity(0, items.len())?;
            for it in items {
                let k = frame_to_lua_at(lua, it, resp, depth + 1)?;
                if !k.is_nil() {
                    s.raw_set(k, true)?;
                }
            }
            tagged("set", Value::Table(s))?
        }
        Frame::Double(text) => {
            let v = std::str::from_utf8(text)
                .ok()
                .and_then(parse_double)
                .unwrap_or(0.0);
            tagged("double", Value::Number(v))?
        }
        Frame::Boolean(b) => Value::Boolean(*b),
        Frame::BigNumber(n) => tagged("big_number", Value::String(lua.create_string(n)?))?,
        Frame::Verbatim { format, text } => {
            let v = lua.create_table()?;
            v.raw_set("format", lua.create_string(format)?)?;
            v.raw_set("string", lua.create_string(text)?)?;
            tagged("verbatim_string", Value::Table(v))?
        }
        Frame::Attribute { value, .. } => frame_to_lua_at(lua, value, resp, depth)?,
    })
}

fn parse_double(s: &str) -> Option<f64> {
    match s {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// A Lua number as Redis turns it into an integer reply: a C cast, so the fraction is
/// dropped and what does not fit (infinities, NaN, beyond 64 bits) is the most
/// negative integer.
pub fn lua_number_to_i64(n: f64) -> i64 {
    if n.is_finite() && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        n as i64
    } else {
        i64::MIN
    }
}

/// Writes a script's return value as a reply. `resp` is the protocol the script
/// chose (booleans are written as booleans once it chose RESP3).
pub fn lua_to_reply(v: &Value, out: &mut ReplyWriter, resp: ScriptResp) {
    lua_to_reply_at(v, out, resp, 0)
}

fn lua_to_reply_at(v: &Value, out: &mut ReplyWriter, resp: ScriptResp, depth: usize) {
    if depth > MAX_DEPTH {
        out.error("ERR reached lua stack limit");
        return;
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => match resp {
            ScriptResp::Resp2 => {
                if *b {
                    out.int(1)
                } else {
                    out.null()
                }
            }
            ScriptResp::Resp3 => out.boolean(*b),
        },
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(lua_number_to_i64(*n)),
        Value::Table(t) => table_to_reply(t, out, resp, depth),
        _ => out.null(),
    }
}

fn field(t: &Table, name: &str) -> Value {
    t.raw_get::<Value>(name).unwrap_or(Value::Nil)
}

fn table_to_reply(t: &Table, out: &mut ReplyWriter, resp: ScriptResp, depth: usize) {
    if let Value::String(e) = field(t, "err") {
        let msg = e.as_bytes();
        out.error_bytes(&msg);
        return;
    }
    if let Value::String(s) = field(t, "ok") {
        let msg: Vec<u8> = s
            .as_bytes()
            .iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
            .collect();
        out.simple_bytes(&msg);
        return;
    }
    match field(t, "double") {
        Value::Number(n) => {
            out.double(n);
            return;
        }
        Value::Integer(n) => {
            out.double(n as f64);
            return;
        }
        _ => {}
    }
    if let Value::String(s) = field(t, "big_number") {
        let text = s.as_bytes();
        if out.is_resp3() {
            let mut raw = Vec::with_capacity(text.len() + 3);
            raw.push(b'(');
            raw.extend_from_slice(&text);
            raw.extend_from_slice(b"\r\n");
            out.raw(&raw);
        } else {
            out.bulk(&text);
        }
        return;
    }
    if let Value::Table(m) = field(t, "map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            lua_to_reply_at(k, out, resp, depth + 1);
            lua_to_reply_at(v, out, resp, depth + 1);
        }
        return;
    }
    if let Value::Table(s) = field(t, "set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| k)
            .collect();
        out.set(keys.len());
        for k in &keys {
            lua_to_reply_at(k, out, resp, depth + 1);
        }
        return;
    }
    if let Value::Table(v) = field(t, "verbatim_string") {
        if let (Value::String(f), Value::String(s)) = (field(&v, "format"), field(&v, "string")) {
            let format = f.to_string_lossy();
            out.verbatim(&format, &s.as_bytes());
            return;
        }
    }
    let mut items = Vec::new();
    let mut i = 1usize;
    loop {
        let v = t.raw_get::<Value>(i).unwrap_or(Value::Nil);
        if v.is_nil() {
            break;
        }
        items.push(v);
        i += 1;
    }
    out.array(items.len());
    for it in &items {
        lua_to_reply_at(it, out, resp, depth + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resp::Protocol;

    fn reply(lua: &Lua, code: &str, proto: Protocol, resp: ScriptResp) -> String {
        let v: Value = lua.load(code).eval().unwrap();
        let mut out = ReplyWriter::new(proto);
        lua_to_reply(&v, &mut out, resp);
        String::from_utf8_lossy(out.as_bytes()).into_owned()
    }

    #[test]
    fn lua_values_become_redis_replies() {
        let lua = Lua::new();
        let r2 = |c: &str| reply(&lua, c, Protocol::Resp2, ScriptResp::Resp2);
        assert_eq!(r2("return 3.99"), ":3\r\n");
        assert_eq!(r2("return -3.99"), ":-3\r\n");
        assert_eq!(r2("return 1/0"), ":-9223372036854775808\r\n");
        assert_eq!(r2("return 'x'"), "$1\r\nx\r\n");
        assert_eq!(r2("return true"), ":1\r\n");
        assert_eq!(r2("return false"), "$-1\r\n");
        assert_eq!(r2("return nil"), "$-1\r\n");
        assert_eq!(r2("return {1,nil,3}"), "*1\r\n:1\r\n");
        assert_eq!(r2("return {err='bad'}"), "-bad\r\n");
        assert_eq!(r2("return {err=3}"), "*0\r\n");
        assert_eq!(r2("return {ok='a\\nb'}"), "+a b\r\n");
        assert_eq!(r2("return {double=3.5}"), "$3\r\n3.5\r\n");
        assert_eq!(r2("return {map={a=1}}"), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(r2("return {set={a=true}}"), "*1\r\n$1\r\na\r\n");
        assert_eq!(r2("return {big_number='123'}"), "$3\r\n123\r\n");
        let r3 = |c: &str| reply(&lua, c, Protocol::Resp3, ScriptResp::Resp2);
        assert_eq!(r3("return false"), "_\r\n");
        assert_eq!(r3("return true"), ":1\r\n");
        assert_eq!(r3("return {double=3.5}"), ",3.5\r\n");
        assert_eq!(r3("return {big_number='123'}"), "(123\r\n");
        assert_eq!(
            r3("return {verbatim_string={format='txt',string='hello'}}"),
            "=9\r\ntxt:hello\r\n"
        );
        assert_eq!(
            reply(&lua, "return false", Protocol::Resp3, ScriptResp::Resp3),
            "#f\r\n"
        );
        assert_eq!(
            reply(&lua, "return false", Protocol::Resp2, ScriptResp::Resp3),
            ":0\r\n"
        );
    }

    #[test]
    fn replies_become_lua_values() {
        let lua = Lua::new();
        let check = |f: Frame, resp: ScriptResp, expect: &str| {
            let v = frame_to_lua(&lua, &f, resp).unwrap();
            lua.globals().set("v", v).unwrap();
            let got: String = lua.load(expect).eval().unwrap();
            assert_eq!(got, "ok", "{f:?}");
        };
        use bytes::Bytes;
        check(
            Frame::Integer(5),
            ScriptResp::Resp2,
            "return v == 5 and 'ok'",
        );
        check(
            Frame::NullBulk,
            ScriptResp::Resp2,
            "return v == false and 'ok'",
        );
        check(Frame::Null, ScriptResp::Resp3, "return v == nil and 'ok'");
        check(
            Frame::Simple(Bytes::from_static(b"OK")),
            ScriptResp::Resp2,
            "return v.ok == 'OK' and 'ok'",
        );
        check(
            Frame::Error(Bytes::from_static(b"ERR x")),
            ScriptResp::Resp2,
            "return v.err == 'ERR x' and 'ok'",
        );
        check(
            Frame::Array(vec![
                Frame::Integer(1),
                Frame::Bulk(Bytes::from_static(b"a")),
            ]),
            ScriptResp::Resp2,
            "return v[1] == 1 and v[2] == 'a' and #v == 2 and 'ok'",
        );
        check(
            Frame::Map(vec![(
                Frame::Bulk(Bytes::from_static(b"k")),
                Frame::Integer(2),
            )]),
            ScriptResp::Resp3,
            "return v.map.k == 2 and 'ok'",
        );
        check(
            Frame::Double(Bytes::from_static(b"1.5")),
            ScriptResp::Resp3,
            "return v.double == 1.5 and 'ok'",
        );
        check(
            Frame::Set(vec![Frame::Bulk(Bytes::from_static(b"m"))]),
            ScriptResp::Resp3,
            "return v.set.m == true and 'ok'",
        );
        check(
            Frame::Boolean(true),
            ScriptResp::Resp3,
            "return v == true and 'ok'",
        );
    }
}
