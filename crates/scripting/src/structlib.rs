//! The `struct` library (Roberto Ierusalimschy's, as Redis ships it):
//! `struct.pack(fmt, ...)`, `struct.unpack(fmt, s [, pos])`, `struct.size(fmt)`.
//!
//! Format: `<` little endian, `>` big endian, `=` native (little), `![n]` alignment;
//! `x` a zero byte; `b`/`B` char, `h`/`H` short, `l`/`L` long (8 bytes), `T` size_t,
//! `i[n]`/`I[n]` integer of n bytes (default 4); `f` float, `d` double; `s` a
//! zero-terminated string; `c[n]` n chars (`c0`: the whole string when packing, the
//! length read just before when unpacking); spaces are ignored.

use mlua::{Lua, MultiValue, Table, Value};

fn rt(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

const MAXINTSIZE: usize = 32;
const MAXALIGN: usize = 8;

struct Fmt<'a> {
    /// The library function parsing it (for argument errors).
    fname: &'static str,
    f: &'a [u8],
    i: usize,
    little: bool,
    align: usize,
}

enum Item {
    Pad,
    Int { size: usize, signed: bool },
    Float,
    Double,
    Str,
    Chars(usize),
    Skip,
}

impl<'a> Fmt<'a> {
    fn new(f: &'a [u8], fname: &'static str) -> Self {
        Fmt {
            fname,
            f,
            i: 0,
            little: true,
            align: 1,
        }
    }

    fn num(&mut self, default: usize) -> mlua::Result<usize> {
        let start = self.i;
        let mut n: usize = 0;
        while self.i < self.f.len() && self.f[self.i].is_ascii_digit() {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add((self.f[self.i] - b'0') as usize))
                .ok_or_else(|| rt("integral size overflow"))?;
            self.i += 1;
        }
        Ok(if self.i == start { default } else { n })
    }

    /// The next item and its size, or None at the end.
    fn next(&mut self) -> mlua::Result<Option<(Item, usize)>> {
        loop {
            let Some(&c) = self.f.get(self.i) else {
                return Ok(None);
            };
            self.i += 1;
            let item = match c {
                b' ' => continue,
                b'<' => {
                    self.little = true;
                    continue;
                }
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'=' => {
                    self.little = true;
                    continue;
                }
                b'!' => {
                    let a = self.num(MAXALIGN)?;
                    if !a.is_power_of_two() {
                        return Err(rt("alignment must be power of 2"));
                    }
                    self.align = a;
                    continue;
                }
                b'x' => (Item::Pad, 1),
                b'b' => (
                    Item::Int {
                        size: 1,
                        signed: true,
                    },
                    1,
                ),
                b'B' => (
                    Item::Int {
                        size: 1,
                        signed: false,
                    },
                    1,
                ),
                b'h' => (
                    Item::Int {
                        size: 2,
                        signed: true,
                    },
                    2,
                ),
                b'H' => (
                    Item::Int {
                        size: 2,
                        signed: false,
                    },
                    2,
                ),
                b'l' => (
                    Item::Int {
                        size: 8,
                        signed: true,
                    },
                    8,
                ),
                b'L' => (
                    Item::Int {
                        size: 8,
                        signed: false,
                    },
                    8,
                ),
                b'T' => (
                    Item::Int {
                        size: 8,
                        signed: false,
                    },
                    8,
                ),
                b'i' | b'I' => {
                    let n = self.num(4)?;
                    if n > MAXINTSIZE {
                        return Err(rt(format!(
                            "integral size {n} is larger than limit of {MAXINTSIZE}"
                        )));
                    }
                    (
                        Item::Int {
                            size: n,
                            signed: c == b'i',
                        },
                        n,
                    )
                }
                b'f' => (Item::Float, 4),
                b'd' => (Item::Double, 8),
                b's' => (Item::Str, 0),
                b'c' => {
                    let n = self.num(1)?;
                    (Item::Chars(n), n)
                }
                b'X' => (Item::Skip, 0),
                other => {
                    return Err(rt(format!(
                        "bad argument #1 to '{}' (invalid format option '{}')",
                        self.fname, other as char
                    )))
                }
            };
            return Ok(Some(item));
        }
    }

    /// Padding before an item of `size` bytes at offset `len`.
    fn gap(&self, item: &Item, size: usize, len: usize) -> usize {
        if !matches!(item, Item::Int { .. } | Item::Float | Item::Double) {
            return 0;
        }
        let align = size.min(self.align);
        if align <= 1 {
            return 0;
        }
        (align - (len & (align - 1))) & (align - 1)
    }
}

fn number(lua: &Lua, v: Option<&Value>, n: usize) -> mlua::Result<f64> {
    match v {
        Some(Value::Integer(i)) => Ok(*i as f64),
        Some(Value::Number(x)) => Ok(*x),
        Some(v @ Value::String(_)) => lua.coerce_number(v.clone())?.ok_or_else(|| {
            rt(format!(
                "bad argument #{n} to 'pack' (number expected, got string)"
            ))
        }),
        other => Err(rt(format!(
            "bad argument #{n} to 'pack' (number expected, got {})",
            other.map(|v| v.type_name()).unwrap_or("no value")
        ))),
    }
}

fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::String> {
    let fmt = match args.front() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        _ => {
            return Err(rt(
                "bad argument #1 to 'pack' (string expected, got no value)",
            ))
        }
    };
    let mut f = Fmt::new(&fmt, "pack");
    let mut out: Vec<u8> = Vec::new();
    let mut arg = 1usize;
    while let Some((item, size)) = f.next()? {
        let gap = f.gap(&item, size, out.len());
        out.resize(out.len() + gap, 0);
        match item {
            Item::Pad => out.push(0),
            Item::Skip => {}
            Item::Int { size, signed } => {
                let n = number(lua, args.get(arg), arg + 1)?;
                arg += 1;
                let v: u64 = if signed || n < 0.0 {
                    n as i64 as u64
                } else {
                    n as u64
                };
                let mut bytes = vec![0u8; size];
                for (k, b) in bytes.iter_mut().enumerate().take(8) {
                    *b = (v >> (8 * k)) as u8;
                }
                if size > 8 && signed && (v as i64) < 0 {
                    for b in bytes.iter_mut().skip(8) {
                        *b = 0xff;
                    }
                }
                if !f.little {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            Item::Float | Item::Double => {
                let n = number(lua, args.get(arg), arg + 1)?;
                arg += 1;
                let mut bytes = if matches!(item, Item::Float) {
                    (n as f32).to_le_bytes().to_vec()
                } else {
                    n.to_le_bytes().to_vec()
                };
                if !f.little {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            Item::Str | Item::Chars(_) => {
                let s = match args.get(arg) {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    Some(v @ (Value::Integer(_) | Value::Number(_))) => lua
                        .coerce_string(v.clone())?
                        .map(|s| s.as_bytes().to_vec())
                        .unwrap_or_default(),
                    other => {
                        return Err(rt(format!(
                            "bad argument #{} to 'pack' (string expected, got {})",
                            arg + 1,
                            other.map(|v| v.type_name()).unwrap_or("no value")
                        )))
                    }
                };
                arg += 1;
                match item {
                    Item::Str => {
                        if s.contains(&0) {
                            return Err(rt(format!(
                                "bad argument #{arg} to 'pack' (string contains zeros)"
                            )));
                        }
                        out.extend_from_slice(&s);
                        out.push(0);
                    }
                    Item::Chars(n) => {
                        let n = if n == 0 { s.len() } else { n };
                        if s.len() < n {
                            return Err(rt(format!(
                                "bad argument #{arg} to 'pack' (string too short)"
                            )));
                        }
                        out.extend_from_slice(&s[..n]);
                    }
                    _ => {}
                }
            }
        }
    }
    lua.create_string(&out)
}

fn unpack(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let fmt = match args.front() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        _ => {
            return Err(rt(
                "bad argument #1 to 'unpack' (string expected, got no value)",
            ))
        }
    };
    let data = match args.get(1) {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        other => {
            return Err(rt(format!(
                "bad argument #2 to 'unpack' (string expected, got {})",
                other.map(|v| v.type_name()).unwrap_or("no value")
            )))
        }
    };
    let pos = match args.get(2) {
        Some(Value::Integer(n)) => *n,
        Some(Value::Number(n)) => *n as i64,
        _ => 1,
    };
    if pos < 1 {
        return Err(rt(
            "bad argument #3 to 'unpack' (offset must be 1 or greater)",
        ));
    }
    let mut pos = (pos - 1) as usize;
    pos = pos.min(usize::MAX / 2);
    let mut f = Fmt::new(&fmt, "unpack");
    let mut out: Vec<Value> = Vec::new();
    let too_short = || rt("bad argument #2 to 'unpack' (data string too short)");
    while let Some((item, size)) = f.next()? {
        pos += f.gap(&item, size, pos);
        if pos + size > data.len() {
            return Err(too_short());
        }
        match item {
            Item::Pad => pos += 1,
            Item::Skip => {}
            Item::Int { size, signed } => {
                let mut bytes = data[pos..pos + size].to_vec();
                if !f.little {
                    bytes.reverse();
                }
                let mut v: u64 = 0;
                for (k, b) in bytes.iter().enumerate().take(8) {
                    v |= (*b as u64) << (8 * k);
                }
                let n = if signed && size < 8 && size > 0 {
                    let shift = 64 - 8 * size;
                    ((v << shift) as i64 >> shift) as f64
                } else if signed {
                    v as i64 as f64
                } else {
                    v as f64
                };
                out.push(Value::Number(n));
                pos += size;
            }
            Item::Float => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&data[pos..pos + 4]);
                if !f.little {
                    b.reverse();
                }
                out.push(Value::Number(f32::from_le_bytes(b) as f64));
                pos += 4;
            }
            Item::Double => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&data[pos..pos + 8]);
                if !f.little {
                    b.reverse();
                }
                out.push(Value::Number(f64::from_le_bytes(b)));
                pos += 8;
            }
            Item::Str => {
                let end = data[pos..]
                    .iter()
                    .position(|&c| c == 0)
                    .ok_or_else(|| rt("unfinished string in data"))?;
                out.push(Value::String(lua.create_string(&data[pos..pos + end])?));
                pos += end + 1;
            }
            Item::Chars(n) => {
                let n = if n == 0 {
                    // The length is the number unpacked just before.
                    match out.pop() {
                        Some(Value::Number(l)) if l >= 0.0 => l as usize,
                        Some(Value::Integer(l)) if l >= 0 => l as usize,
                        _ => return Err(rt("format 'c0' needs a previous size")),
                    }
                } else {
                    n
                };
                if pos + n > data.len() {
                    return Err(too_short());
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + n])?));
                pos += n;
            }
        }
    }
    out.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_vec(out))
}

fn size(_: &Lua, fmt: mlua::String) -> mlua::Result<f64> {
    let fmt = fmt.as_bytes().to_vec();
    let mut f = Fmt::new(&fmt, "size");
    let mut total = 0usize;
    while let Some((item, size)) = f.next()? {
        if matches!(item, Item::Str) {
            return Err(rt(
                "bad argument #1 to 'size' (option 's' has no fixed size)",
            ));
        }
        if matches!(item, Item::Chars(0)) {
            return Err(rt(
                "bad argument #1 to 'size' (option 'c0' has no fixed size)",
            ));
        }
        total += f.gap(&item, size, total) + size;
    }
    Ok(total as f64)
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(unpack)?)?;
    t.raw_set("size", lua.create_function(size)?)?;
    crate::with_positions(lua, &t)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str) -> Result<String, String> {
        let lua = Lua::new();
        lua.globals().set("struct", open(&lua).unwrap()).unwrap();
        let v: Value = lua.load(code).eval().map_err(|e| e.to_string())?;
        Ok(match v {
            Value::String(s) => s.as_bytes().iter().map(|b| format!("{b:02x}")).collect(),
            v => lua
                .coerce_string(v)
                .unwrap()
                .map(|s| s.to_string_lossy())
                .unwrap_or_else(|| "nil".into()),
        })
    }

    #[test]
    fn pack_unpack_size() {
        assert_eq!(eval("return struct.pack('>I2', 258)").unwrap(), "0102");
        assert_eq!(eval("return struct.pack('<i', -2)").unwrap(), "feffffff");
        assert_eq!(eval("return struct.pack('bB', -1, 255)").unwrap(), "ffff");
        assert_eq!(eval("return struct.pack('s', 'ab')").unwrap(), "616200");
        assert_eq!(
            eval("return struct.pack('c3', 'abcdef')").unwrap(),
            "616263"
        );
        assert_eq!(
            eval("return struct.pack('>d', 1.5)").unwrap(),
            "3ff8000000000000"
        );
        assert_eq!(
            eval("return struct.unpack('>I2', '\\1\\2')").unwrap(),
            "258"
        );
        assert_eq!(
            eval("local a, b, n = struct.unpack('<hs', struct.pack('<hs', -5, 'xy')); return a .. b .. n").unwrap(),
            "2d35787936"
        );
        assert_eq!(
            eval("local v = struct.unpack('Bc0', '\\3abcd'); return v").unwrap(),
            "616263"
        );
        assert_eq!(eval("return struct.size('>iIhd')").unwrap(), "18");
        assert_eq!(eval("return struct.size('!4 b i')").unwrap(), "8");
        assert!(eval("return struct.pack('y', 1)")
            .unwrap_err()
            .contains("bad argument #1 to 'pack' (invalid format option 'y')"));
        assert!(eval("return struct.unpack('i', 'ab')")
            .unwrap_err()
            .contains("data string too short"));
    }
}
