//! The `bit` library (LuaBitOp) Redis gives scripts: 32-bit operations on numbers,
//! results as signed 32-bit integers.

use mlua::{Lua, MultiValue, Table, Value};

fn rt(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(v) => match v {
            Value::Nil => "nil",
            Value::Boolean(_) => "boolean",
            Value::String(_) => "string",
            Value::Table(_) => "table",
            Value::Function(_) => "function",
            Value::Integer(_) | Value::Number(_) => "number",
            _ => "userdata",
        },
    }
}

/// A number as LuaBitOp normalizes it: rounded to an integer, modulo 2^32.
pub fn tobit(n: f64) -> i32 {
    if !n.is_finite() {
        return 0;
    }
    let r = n.round_ties_even();
    (r.rem_euclid(4_294_967_296.0) as u64 as u32) as i32
}

fn arg(lua: &Lua, args: &MultiValue, i: usize, fname: &str) -> mlua::Result<i32> {
    let v = args.get(i);
    let n = match v {
        Some(Value::Integer(n)) => Some(*n as f64),
        Some(Value::Number(n)) => Some(*n),
        Some(Value::String(_)) => lua.coerce_number(v.cloned().unwrap_or(Value::Nil))?,
        _ => None,
    };
    match n {
        Some(n) => Ok(tobit(n)),
        None => Err(rt(format!(
            "bad argument #{} to '{}' (number expected, got {})",
            i + 1,
            fname,
            type_name(v)
        ))),
    }
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "tobit",
        lua.create_function(|lua, a: MultiValue| Ok(arg(lua, &a, 0, "tobit")? as f64))?,
    )?;
    t.raw_set(
        "bnot",
        lua.create_function(|lua, a: MultiValue| Ok((!arg(lua, &a, 0, "bnot")?) as f64))?,
    )?;
    type Fold = fn(i32, i32) -> i32;
    let folds: [(&'static str, Fold); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, op) in folds {
        t.raw_set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                let mut acc = arg(lua, &a, 0, name)?;
                for i in 1..a.len() {
                    acc = op(acc, arg(lua, &a, i, name)?);
                }
                Ok(acc as f64)
            })?,
        )?;
    }
    type Shift = fn(i32, u32) -> i32;
    let shifts: [(&'static str, Shift); 5] = [
        ("lshift", |x, n| ((x as u32) << n) as i32),
        ("rshift", |x, n| ((x as u32) >> n) as i32),
        ("arshift", |x, n| x >> n),
        ("rol", |x, n| (x as u32).rotate_left(n) as i32),
        ("ror", |x, n| (x as u32).rotate_right(n) as i32),
    ];
    for (name, op) in shifts {
        t.raw_set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                let x = arg(lua, &a, 0, name)?;
                let n = arg(lua, &a, 1, name)? as u32 & 31;
                Ok(op(x, n) as f64)
            })?,
        )?;
    }
    t.raw_set(
        "bswap",
        lua.create_function(
            |lua, a: MultiValue| Ok(arg(lua, &a, 0, "bswap")?.swap_bytes() as f64),
        )?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|lua, a: MultiValue| {
            let x = arg(lua, &a, 0, "tohex")? as u32;
            let n = if a.len() > 1 && !matches!(a.get(1), Some(Value::Nil)) {
                arg(lua, &a, 1, "tohex")?
            } else {
                8
            };
            let upper = n < 0;
            let n = n.unsigned_abs().min(8) as usize;
            let full = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(full[8 - n..].to_string())
        })?,
    )?;
    crate::with_positions(lua, &t)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str) -> String {
        let lua = Lua::new();
        lua.globals().set("bit", open(&lua).unwrap()).unwrap();
        let v: Value = lua.load(code).eval().unwrap();
        match lua.coerce_string(v).unwrap() {
            Some(s) => s.to_string_lossy(),
            None => "nil".into(),
        }
    }

    #[test]
    fn bitop_matches_luabitop() {
        assert_eq!(eval("return bit.tobit(0xffffffff)"), "-1");
        assert_eq!(eval("return bit.tobit(2^32 + 5)"), "5");
        assert_eq!(eval("return bit.bnot(0)"), "-1");
        assert_eq!(eval("return bit.band(0x12345678, 0xff)"), "120");
        assert_eq!(eval("return bit.bor(1, 2, 4, 8)"), "15");
        assert_eq!(eval("return bit.bxor(5, 3)"), "6");
        assert_eq!(eval("return bit.lshift(1, 31)"), "-2147483648");
        assert_eq!(eval("return bit.lshift(1, 32)"), "1");
        assert_eq!(eval("return bit.rshift(-1, 28)"), "15");
        assert_eq!(eval("return bit.arshift(-256, 4)"), "-16");
        assert_eq!(
            eval("return bit.rol(0x12345678, 8)"),
            tobit(0x34567812 as f64).to_string()
        );
        assert_eq!(
            eval("return bit.ror(0x12345678, 8)"),
            tobit(0x78123456 as f64).to_string()
        );
        assert_eq!(eval("return bit.tohex(255)"), "000000ff");
        assert_eq!(eval("return bit.tohex(-1, -4)"), "FFFF");
        assert_eq!(eval("return bit.tohex(0x1234, 2)"), "34");
        assert_eq!(eval("return bit.bswap(0x12345678)"), "2018915346");
    }
}
