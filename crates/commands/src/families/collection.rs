//! Reading and writing a collection value under its key, shared by the families whose
//! type is a plain `Value` variant (hashes, sets): one lookup, the WRONGTYPE check, the
//! access time, creation on write and removal of a collection left empty (Redis never
//! keeps an empty collection).

use engine::types::{Elem, Hash, Set};
use engine::Value;
use resp::ReplyWriter;

use super::util::{new_entry, touches};
use crate::ctx::Ctx;

/// What looking a collection up found.
pub(super) enum Look<T> {
    Missing,
    WrongType,
    Found(T),
}

/// A collection type held in one `Value` variant.
pub(super) trait Kind: Sized {
    fn of(v: &Value) -> Option<&Self>;
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    fn new_value() -> Value;
    fn is_empty(&self) -> bool;
}

impl Kind for Hash {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }
    fn new_value() -> Value {
        Value::Hash(Hash::new())
    }
    fn is_empty(&self) -> bool {
        Hash::is_empty(self)
    }
}

impl Kind for Set {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }
    fn new_value() -> Value {
        Value::Set(Set::new())
    }
    fn is_empty(&self) -> bool {
        Set::is_empty(self)
    }
}

/// Reads the value at `key` as the type `of` picks out of a `Value` (a keyspace hit or
/// miss; the access time unless the client is NO-TOUCH) and hands it to `f` with the
/// reply writer. Every family's single-key reads go through here.
pub(super) fn read_as<V: ?Sized, T>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    of: fn(&Value) -> Option<&V>,
    f: impl FnOnce(&mut ReplyWriter, &V) -> T,
) -> Look<T> {
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    match ctx.ks.get(db, key, now) {
        None => Look::Missing,
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            match of(&e.value) {
                Some(v) => Look::Found(f(ctx.out, v)),
                None => Look::WrongType,
            }
        }
    }
}

/// Reads the collection at `key` (see [`read_as`]). Empty collections are never kept;
/// one that slipped in reads as missing.
pub(super) fn read<C: Kind, T>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: impl FnOnce(&mut ReplyWriter, &C) -> T,
) -> Look<T> {
    match read_as(ctx, key, C::of, |out, c| (!c.is_empty()).then(|| f(out, c))) {
        Look::Found(Some(t)) => Look::Found(t),
        Look::Found(None) | Look::Missing => Look::Missing,
        Look::WrongType => Look::WrongType,
    }
}

impl<T> Look<T> {
    /// `Ok(Some)` found, `Ok(None)` missing, `Err(())` another type.
    pub(super) fn into_result(self) -> Result<Option<T>, ()> {
        match self {
            Look::Found(t) => Ok(Some(t)),
            Look::Missing => Ok(None),
            Look::WrongType => Err(()),
        }
    }
}

/// Runs `f` on the collection at `key` for writing, creating an empty one first when
/// `create` is set and the key is missing. A collection left empty is removed from the
/// keyspace.
pub(super) fn write<C: Kind, T>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut C, &mut ReplyWriter) -> T,
) -> Look<T> {
    let (db, now, access) = (ctx.db(), ctx.now_ms, ctx.access);
    let (res, empty) = {
        let entry = if create {
            Some(
                ctx.ks
                    .get_or_insert_with(db, key, now, || new_entry(key, C::new_value(), &access))
                    .0,
            )
        } else {
            ctx.ks.get_for_write(db, key, now)
        };
        let Some(mut e) = entry else {
            return Look::Missing;
        };
        if C::of(&e.value).is_none() {
            return Look::WrongType;
        }
        e.touch(&access);
        match C::of_mut(&mut e.value) {
            // Empty collections are never kept; one that slipped in is missing (and goes).
            Some(c) if !create && c.is_empty() => (Look::Missing, true),
            Some(c) => {
                let r = f(c, ctx.out);
                (Look::Found(r), c.is_empty())
            }
            None => (Look::WrongType, false),
        }
    };
    if empty {
        ctx.ks.remove(db, key, now);
    }
    res
}

/// Writes an element as a bulk string.
#[inline]
pub(super) fn bulk(out: &mut ReplyWriter, e: Elem<'_>) {
    match e {
        Elem::Str(s) => out.bulk(s),
        Elem::Int(n) => out.bulk_int(n),
    }
}
