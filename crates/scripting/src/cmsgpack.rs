//! The `cmsgpack` library (lua-cmsgpack 0.4 as Redis ships it): `pack(...)`,
//! `unpack(s)`, `unpack_one(s [, offset])`, `unpack_limit(s, limit [, offset])`.
//!
//! Encoding as Redis does it: integral numbers as the smallest integer form, other
//! numbers as float 32 when exact, else float 64; strings as fixstr / str8 / str16 /
//! str32; a table whose keys are exactly 1..n as an array, any other as a map;
//! nesting deeper than 16 as nil.

use mlua::{Lua, MultiValue, Table, Value};

fn rt(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

const MAX_NESTING: usize = 16;

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(rt(
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                ));
            }
            let mut out = Vec::new();
            for a in args.iter() {
                encode(a, &mut out, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, s: mlua::String| {
            let data = s.as_bytes().to_vec();
            let (_, vals) = unpack(lua, &data, 0, 0)?;
            Ok(MultiValue::from_vec(vals))
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, (s, offset): (mlua::String, Option<i64>)| {
            let data = s.as_bytes().to_vec();
            unpack_with_offset(lua, &data, 1, offset.unwrap_or(0))
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(
            |lua, (s, limit, offset): (mlua::String, i64, Option<i64>)| {
                let data = s.as_bytes().to_vec();
                unpack_with_offset(lua, &data, limit.max(0) as usize, offset.unwrap_or(0))
            },
        )?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    crate::with_positions(lua, &t)?;
    Ok(t)
}

fn unpack_with_offset(
    lua: &Lua,
    data: &[u8],
    limit: usize,
    offset: i64,
) -> mlua::Result<MultiValue> {
    if offset < 0 || offset as usize > data.len() {
        return Err(rt("Start offset greater than input length"));
    }
    let (next, mut vals) = unpack(lua, data, offset as usize, limit)?;
    let next = if next >= data.len() { -1 } else { next as i64 };
    vals.insert(0, Value::Number(next as f64));
    Ok(MultiValue::from_vec(vals))
}

/// Decodes up to `limit` objects (0: all) from `data[start..]`; returns where it stopped.
fn unpack(lua: &Lua, data: &[u8], start: usize, limit: usize) -> mlua::Result<(usize, Vec<Value>)> {
    let mut pos = start;
    let mut vals = Vec::new();
    while pos < data.len() && (limit == 0 || vals.len() < limit) {
        let v = decode(lua, data, &mut pos)?;
        vals.push(v);
    }
    Ok((pos, vals))
}

fn is_int(n: f64) -> bool {
    n.is_finite()
        && n == n.trunc()
        && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n)
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        let u = n as u64;
        if u <= 127 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.push(0xcc);
            out.push(u as u8);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.push(0xd0);
        out.push(n as i8 as u8);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    if is_int(n) {
        encode_int(n as i64, out);
        return;
    }
    let f = n as f32;
    if f as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_len(len: usize, fix: u8, fix_max: usize, c16: u8, c32: u8, out: &mut Vec<u8>) {
    if len <= fix_max {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(c16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(c32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => encode_int(*n, out),
        Value::Number(n) => encode_number(*n, out),
        Value::String(s) => {
            let b = s.as_bytes();
            let len = b.len();
            if len < 32 {
                out.push(0xa0 | len as u8);
            } else if len <= 0xff {
                out.push(0xd9);
                out.push(len as u8);
            } else if len <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if depth < MAX_NESTING => {
            if let Some(n) = array_len(t)? {
                encode_len(n, 0x90, 15, 0xdc, 0xdd, out);
                for i in 1..=n {
                    let item: Value = t.raw_get(i)?;
                    encode(&item, out, depth + 1)?;
                }
            } else {
                let pairs: Vec<(Value, Value)> =
                    t.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
                encode_len(pairs.len(), 0x80, 15, 0xde, 0xdf, out);
                for (k, val) in &pairs {
                    encode(k, out, depth + 1)?;
                    encode(val, out, depth + 1)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

/// Some(n) when the table's keys are exactly 1..n.
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let mut max = 0usize;
    let mut count = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n < 1.0 || n.floor() != n {
            return Ok(None);
        }
        max = max.max(n as usize);
        count += 1;
    }
    Ok((max == count).then_some(count))
}

fn take<'a>(data: &'a [u8], pos: &mut usize, n: usize) -> mlua::Result<&'a [u8]> {
    let end = pos
        .checked_add(n)
        .filter(|e| *e <= data.len())
        .ok_or_else(|| rt("Missing bytes in input."))?;
    let s = &data[*pos..end];
    *pos = end;
    Ok(s)
}

fn be(data: &[u8], pos: &mut usize, n: usize) -> mlua::Result<u64> {
    Ok(take(data, pos, n)?
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | b as u64))
}

fn decode(lua: &Lua, data: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let c = take(data, pos, 1)?[0];
    let string = |lua: &Lua, pos: &mut usize, n: usize| -> mlua::Result<Value> {
        Ok(Value::String(lua.create_string(take(data, pos, n)?)?))
    };
    Ok(match c {
        0x00..=0x7f => Value::Number(c as f64),
        0x80..=0x8f => decode_map(lua, data, pos, (c & 0x0f) as usize)?,
        0x90..=0x9f => decode_array(lua, data, pos, (c & 0x0f) as usize)?,
        0xa0..=0xbf => string(lua, pos, (c & 0x1f) as usize)?,
        0xc0 => Value::Nil,
        0xc2 => Value::Boolean(false),
        0xc3 => Value::Boolean(true),
        0xc4 | 0xd9 => {
            let n = be(data, pos, 1)? as usize;
            string(lua, pos, n)?
        }
        0xc5 | 0xda => {
            let n = be(data, pos, 2)? as usize;
            string(lua, pos, n)?
        }
        0xc6 | 0xdb => {
            let n = be(data, pos, 4)? as usize;
            string(lua, pos, n)?
        }
        0xca => Value::Number(f32::from_bits(be(data, pos, 4)? as u32) as f64),
        0xcb => Value::Number(f64::from_bits(be(data, pos, 8)?)),
        0xcc => Value::Number(be(data, pos, 1)? as f64),
        0xcd => Value::Number(be(data, pos, 2)? as f64),
        0xce => Value::Number(be(data, pos, 4)? as f64),
        0xcf => Value::Number(be(data, pos, 8)? as f64),
        0xd0 => Value::Number(be(data, pos, 1)? as u8 as i8 as f64),
        0xd1 => Value::Number(be(data, pos, 2)? as u16 as i16 as f64),
        0xd2 => Value::Number(be(data, pos, 4)? as u32 as i32 as f64),
        0xd3 => Value::Number(be(data, pos, 8)? as i64 as f64),
        0xdc => {
            let n = be(data, pos, 2)? as usize;
            decode_array(lua, data, pos, n)?
        }
        0xdd => {
            let n = be(data, pos, 4)? as usize;
            decode_array(lua, data, pos, n)?
        }
        0xde => {
            let n = be(data, pos, 2)? as usize;
            decode_map(lua, data, pos, n)?
        }
        0xdf => {
            let n = be(data, pos, 4)? as usize;
            decode_map(lua, data, pos, n)?
        }
        0xe0..=0xff => Value::Number(c as i8 as f64),
        _ => return Err(rt("Bad data format in input.")),
    })
}

fn decode_array(lua: &Lua, data: &[u8], pos: &mut usize, n: usize) -> mlua::Result<Value> {
    if n > data.len() - *pos {
        return Err(rt("Missing bytes in input."));
    }
    let t = lua.create_table_with_capacity(n, 0)?;
    for i in 1..=n {
        let v = decode(lua, data, pos)?;
        t.raw_set(i, v)?;
    }
    Ok(Value::Table(t))
}

fn decode_map(lua: &Lua, data: &[u8], pos: &mut usize, n: usize) -> mlua::Result<Value> {
    if n > data.len() - *pos {
        return Err(rt("Missing bytes in input."));
    }
    let t = lua.create_table_with_capacity(0, n)?;
    for _ in 0..n {
        let k = decode(lua, data, pos)?;
        let v = decode(lua, data, pos)?;
        if !k.is_nil() {
            t.raw_set(k, v)?;
        }
    }
    Ok(Value::Table(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(code: &str) -> String {
        let lua = Lua::new();
        lua.globals().set("cmsgpack", open(&lua).unwrap()).unwrap();
        let v: mlua::String = lua.load(code).eval().unwrap();
        v.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn eval(code: &str) -> String {
        let lua = Lua::new();
        lua.globals().set("cmsgpack", open(&lua).unwrap()).unwrap();
        let v: Value = lua.load(code).eval().unwrap();
        match lua.coerce_string(v).unwrap() {
            Some(s) => s.to_string_lossy(),
            None => "nil".into(),
        }
    }

    /// Bytes taken from redis-server 7.0's cmsgpack.pack.
    #[test]
    fn pack_as_redis() {
        assert_eq!(hex("return cmsgpack.pack(1)"), "01");
        assert_eq!(hex("return cmsgpack.pack(-1)"), "ff");
        assert_eq!(hex("return cmsgpack.pack(200)"), "ccc8");
        assert_eq!(hex("return cmsgpack.pack(-200)"), "d1ff38");
        assert_eq!(hex("return cmsgpack.pack(70000)"), "ce00011170");
        assert_eq!(hex("return cmsgpack.pack(1.5)"), "ca3fc00000");
        assert_eq!(hex("return cmsgpack.pack(0.1)"), "cb3fb999999999999a");
        assert_eq!(hex("return cmsgpack.pack('abc')"), "a3616263");
        assert_eq!(hex("return cmsgpack.pack({1,2,3})"), "93010203");
        assert_eq!(hex("return cmsgpack.pack({a=1})"), "81a16101");
        assert_eq!(hex("return cmsgpack.pack(true, false, nil)"), "c3c2c0");
        assert_eq!(
            hex("return cmsgpack.pack(string.rep('x', 40))").len(),
            2 * (2 + 40)
        );
        assert!(hex("return cmsgpack.pack(string.rep('x', 40))").starts_with("d928"));
    }

    #[test]
    fn unpack_round_trips() {
        assert_eq!(
            eval("local a, b, c = cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, {x=4}})); return b .. c[1] .. c[2].x"),
            "two34"
        );
        assert_eq!(
            eval("return select('#', cmsgpack.unpack(cmsgpack.pack(1, 2, 3)))"),
            "3"
        );
        assert_eq!(
            eval("return cmsgpack.unpack(cmsgpack.pack(-123456789012))"),
            "-123456789012"
        );
        assert_eq!(
            eval("local o, v = cmsgpack.unpack_one(cmsgpack.pack(7, 8)); return o .. ':' .. v"),
            "1:7"
        );
        assert_eq!(
            eval("local o, v = cmsgpack.unpack_one(cmsgpack.pack(7, 8), 1); return o .. ':' .. v"),
            "-1:8"
        );
        let lua = Lua::new();
        lua.globals().set("cmsgpack", open(&lua).unwrap()).unwrap();
        let e = lua
            .load("return cmsgpack.unpack('\\147\\1')")
            .exec()
            .unwrap_err();
        assert!(e.to_string().contains("Missing bytes in input."), "{e}");
    }
}
