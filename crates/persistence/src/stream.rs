//! Streams in RDB files, as Redis 7.0 writes them (`RDB_TYPE_STREAM_LISTPACKS_2`, type
//! 19), and read back from Redis 5.0-6.2 (type 15) and 7.2 (type 21) files too.
//!
//! Layout of the value:
//!
//! * the number of listpack nodes, then per node its master ID (a 16-byte string: ms
//!   and seq, big-endian) and the listpack;
//! * the length, the last ID (ms, seq), and from type 19 on the first ID, the largest
//!   deleted ID and the number of entries ever added (all lengths);
//! * the number of consumer groups, then per group: its name, last delivered ID (ms,
//!   seq), from type 19 on its entries-read counter (a length; -1 wraps), its PEL
//!   (count, then per entry 16 raw ID bytes, the delivery time as 8 little-endian
//!   bytes and the delivery count), and its consumers (count, then per consumer its
//!   name, seen time (8 bytes; type 21 adds an active time), and its PEL as a count and
//!   raw IDs that must be in the group's PEL).
//!
//! A node's listpack starts with a master entry (live count, deleted count, the number
//! of master fields, the fields, a 0), followed by the entries: flags (1 deleted, 2
//! same fields as the master), the ID as ms and seq deltas from the master ID, the
//! field count and fields unless flag 2, the values, and the number of listpack
//! elements the entry took (for walking backwards).
//!
//! We write the nodes the engine models (the ones Redis would have for the same
//! history, minus the deleted entries, which are not kept), and load every live entry
//! back through the engine's append, so the loaded stream follows Redis's node rules.

use std::collections::BTreeMap;
use std::io::Read;

use engine::types::stream::{Group, Packed};
use engine::types::{Stream, StreamId};
use engine::Value;

use crate::error::{show_key, PersistError};
use crate::listpack::{self, Item, Listpack};
use crate::reader::Source;

/// Value type codes of streams.
pub(crate) mod code {
    /// Redis 5.0 to 6.2.
    pub const STREAM_LISTPACKS: u8 = 15;
    /// Redis 7.0 (what we write).
    pub const STREAM_LISTPACKS_2: u8 = 19;
    /// Redis 7.2 (consumers also have an active time).
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

pub(crate) fn is_stream(c: u8) -> bool {
    matches!(
        c,
        code::STREAM_LISTPACKS | code::STREAM_LISTPACKS_2 | code::STREAM_LISTPACKS_3
    )
}

/// A stream ID as the 16 bytes Redis uses for radix tree keys and PEL entries.
pub(crate) fn id_bytes(id: StreamId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

fn id_from_bytes(b: &[u8; 16]) -> StreamId {
    let mut ms = [0u8; 8];
    let mut seq = [0u8; 8];
    ms.copy_from_slice(&b[..8]);
    seq.copy_from_slice(&b[8..]);
    StreamId::new(u64::from_be_bytes(ms), u64::from_be_bytes(seq))
}

/// The listpack of one node: its live entries from `master` to `last`, delta-encoded
/// against `master`, with `master_fields` as the master entry.
pub(crate) fn node_listpack(
    s: &Stream,
    master: StreamId,
    last: StreamId,
    master_fields: &Packed,
) -> Option<Listpack> {
    let entries: Vec<(&StreamId, &Packed)> = s.range(master, last).collect();
    if entries.is_empty() {
        return None;
    }
    let mut lp = Listpack::new();
    lp.push_int(entries.len() as i64);
    lp.push_int(0);
    lp.push_int(master_fields.count() as i64);
    for f in master_fields.iter() {
        lp.push(f);
    }
    lp.push_int(0);
    for (id, fields) in entries {
        let pairs = fields.count() / 2;
        let same = master_fields.equals(fields.iter().step_by(2));
        lp.push_int(if same { FLAG_SAMEFIELDS } else { 0 });
        lp.push_int(id.ms.wrapping_sub(master.ms) as i64);
        lp.push_int(id.seq.wrapping_sub(master.seq) as i64);
        if same {
            for v in fields.iter().skip(1).step_by(2) {
                lp.push(v);
            }
        } else {
            lp.push_int(pairs as i64);
            for f in fields.iter() {
                lp.push(f);
            }
        }
        let mut count = pairs + 3;
        if !same {
            count += pairs + 1;
        }
        lp.push_int(count as i64);
    }
    Some(lp)
}

/// Reads a stream value of type `c`.
pub(crate) fn read<R: Read>(src: &mut Source<R>, c: u8, key: &[u8]) -> Result<Value, PersistError> {
    let at = src.offset();
    let corrupt = |detail: String| PersistError::Corrupt {
        offset: at,
        reason: format!("stream {}: {detail}", show_key(key)),
    };
    let mut s = Stream::new();
    let nodes = src.length()?;
    let mut last_master: Option<StreamId> = None;
    for _ in 0..nodes {
        let raw = src.string()?.into_bytes();
        let raw: [u8; 16] = raw.as_slice().try_into().map_err(|_| {
            corrupt(format!(
                "a node key of {} bytes is not a stream ID",
                raw.len()
            ))
        })?;
        let master = id_from_bytes(&raw);
        if last_master.is_some_and(|m| m >= master) {
            return Err(corrupt(format!("node {master} is out of order")));
        }
        last_master = Some(master);
        let lp = src.string()?.into_bytes();
        let items = listpack::decode(&lp)
            .map_err(|e| corrupt(format!("bad listpack in node {master}: {e}")))?;
        read_node(&mut s, master, &items, lp.len())
            .map_err(|why| corrupt(format!("node {master}: {why}")))?;
    }
    let length = src.length()?;
    if length != s.len() as u64 {
        return Err(corrupt(format!(
            "the stream says it has {length} entries but its nodes hold {}",
            s.len()
        )));
    }
    let last_id = StreamId::new(src.length()?, src.length()?);
    if last_id < s.last_id() {
        return Err(corrupt(format!(
            "last ID {last_id} is below the last entry {}",
            s.last_id()
        )));
    }
    if c >= code::STREAM_LISTPACKS_2 {
        let first_id = StreamId::new(src.length()?, src.length()?);
        let max_deleted = StreamId::new(src.length()?, src.length()?);
        let entries_added = src.length()?;
        s.set_meta(last_id, Some(first_id), max_deleted, entries_added);
    } else {
        // Older files: as Redis migrates them.
        let len = s.len() as u64;
        s.set_meta(last_id, None, StreamId::MIN, len);
    }
    let groups = src.length()?;
    for _ in 0..groups {
        let name = src.string()?.into_bytes();
        let last = StreamId::new(src.length()?, src.length()?);
        let entries_read = if c >= code::STREAM_LISTPACKS_2 {
            src.length()? as i64
        } else {
            s.estimate_distance(last)
        };
        if s.group(&name).is_some() {
            return Err(corrupt(format!(
                "duplicate consumer group {}",
                show_key(&name)
            )));
        }
        let mut g = Group::new(last, entries_read);
        // The group's PEL first, owners unresolved; each consumer then claims its IDs.
        let mut pel: BTreeMap<StreamId, (u64, u64)> = BTreeMap::new();
        let pel_len = src.length()?;
        for _ in 0..pel_len {
            let id = id_from_bytes(&src.array::<16>()?);
            let time = i64::from_le_bytes(src.array::<8>()?) as u64;
            let count = src.length()?;
            if pel.insert(id, (time, count)).is_some() {
                return Err(corrupt(format!(
                    "duplicate pending entry {id} in group {}",
                    show_key(&name)
                )));
            }
        }
        let consumers = src.length()?;
        for _ in 0..consumers {
            let cname = src.string()?.into_bytes();
            let seen = i64::from_le_bytes(src.array::<8>()?) as u64;
            if c >= code::STREAM_LISTPACKS_3 {
                let _active_time = src.array::<8>()?;
            }
            if !g.create_consumer(&cname, seen) {
                return Err(corrupt(format!(
                    "duplicate consumer {} in group {}",
                    show_key(&cname),
                    show_key(&name)
                )));
            }
            let n = src.length()?;
            for _ in 0..n {
                let id = id_from_bytes(&src.array::<16>()?);
                let Some((time, count)) = pel.remove(&id) else {
                    return Err(corrupt(format!(
                        "consumer {} has pending entry {id} that is not in group {}'s list (or twice)",
                        show_key(&cname),
                        show_key(&name)
                    )));
                };
                g.set_owner(id, &cname, time, Some(count));
            }
        }
        if let Some(id) = pel.keys().next() {
            return Err(corrupt(format!(
                "pending entry {id} of group {} has no consumer",
                show_key(&name)
            )));
        }
        s.load_group(&name, g);
    }
    Ok(Value::Stream(Box::new(s)))
}

/// Walks a node's listpack elements.
struct Cursor<'a, 'b> {
    items: &'b [Item<'a>],
    at: usize,
}

impl<'a> Cursor<'a, '_> {
    fn done(&self) -> bool {
        self.at >= self.items.len()
    }

    fn next(&mut self, what: &str) -> Result<Item<'a>, String> {
        let it = self
            .items
            .get(self.at)
            .copied()
            .ok_or_else(|| format!("the listpack ends before the {what}"))?;
        self.at += 1;
        Ok(it)
    }

    fn int(&mut self, what: &str) -> Result<i64, String> {
        self.next(what)?
            .as_i64()
            .ok_or_else(|| format!("the {what} is not an integer"))
    }
}

/// Appends the live entries of one node's listpack to `s`.
fn read_node(
    s: &mut Stream,
    master: StreamId,
    items: &[Item<'_>],
    lp_bytes: usize,
) -> Result<(), String> {
    let mut cur = Cursor { items, at: 0 };
    let live = cur.int("entry count")?;
    let deleted = cur.int("deleted count")?;
    let nmaster = cur.int("master field count")?;
    if live < 0 || deleted < 0 || nmaster < 0 {
        return Err("negative counts in the master entry".into());
    }
    let mut master_fields: Vec<Vec<u8>> = Vec::new();
    for _ in 0..nmaster {
        master_fields.push(cur.next("master fields")?.to_vec());
    }
    if cur.int("master terminator")? != 0 {
        return Err("the master entry does not end with 0".into());
    }
    let (mut seen_live, mut seen_deleted) = (0i64, 0i64);
    let mut entries: Vec<(StreamId, Vec<Vec<u8>>)> = Vec::new();
    let mut last = master;
    while !cur.done() {
        let flags = cur.int("entry flags")?;
        let ms = cur.int("entry ID")?;
        let seq = cur.int("entry ID")?;
        let id = StreamId::new(
            master.ms.wrapping_add(ms as u64),
            master.seq.wrapping_add(seq as u64),
        );
        if id < master || id < last || (id == last && seen_live + seen_deleted > 0) {
            return Err(format!("entry {id} is out of order"));
        }
        last = id;
        let same = flags & FLAG_SAMEFIELDS != 0;
        let nfields = if same {
            nmaster
        } else {
            cur.int("field count")?
        };
        if nfields <= 0 {
            return Err(format!("entry {id} has {nfields} fields"));
        }
        let mut fields: Vec<Vec<u8>> = Vec::new();
        if same {
            for f in &master_fields {
                fields.push(f.clone());
                fields.push(cur.next("values")?.to_vec());
            }
        } else {
            for _ in 0..nfields {
                fields.push(cur.next("fields")?.to_vec());
                fields.push(cur.next("values")?.to_vec());
            }
        }
        let mut expect = nfields + 3;
        if !same {
            expect += nfields + 1;
        }
        if cur.int("entry element count")? != expect {
            return Err(format!("entry {id} has a wrong element count"));
        }
        if flags & FLAG_DELETED != 0 {
            seen_deleted += 1;
        } else {
            seen_live += 1;
            entries.push((id, fields));
        }
    }
    if seen_live != live || seen_deleted != deleted {
        return Err(format!(
            "the master entry counts {live} live and {deleted} deleted entries, the node holds {seen_live} and {seen_deleted}"
        ));
    }
    if entries.is_empty() {
        // Redis removes a node whose entries are all deleted; nothing to keep.
        return Ok(());
    }
    let refs: Vec<(StreamId, Vec<&[u8]>)> = entries
        .iter()
        .map(|(id, f)| (*id, f.iter().map(Vec::as_slice).collect()))
        .collect();
    let master_refs: Vec<&[u8]> = master_fields.iter().map(Vec::as_slice).collect();
    if !s.load_node(
        master,
        &master_refs,
        &refs,
        seen_deleted as u32,
        last,
        lp_bytes,
    ) {
        return Err("its entries overlap the previous node's".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_as_radix_keys() {
        let id = StreamId::new(0x0102, 7);
        let b = id_bytes(id);
        assert_eq!(&b[6..8], &[1, 2]);
        assert_eq!(b[15], 7);
        assert_eq!(id_from_bytes(&b), id);
    }

    #[test]
    fn node_listpack_layout() {
        let mut s = Stream::new();
        s.append(StreamId::new(5, 0), &[b"a", b"1"]);
        s.append(StreamId::new(5, 1), &[b"a", b"x"]);
        s.append(StreamId::new(6, 0), &[b"b", b"2", b"c", b"3"]);
        let (master, node) = s.nodes().iter().next().expect("one node");
        let lp = node_listpack(&s, *master, node.last, &node.master_fields)
            .expect("entries")
            .finish()
            .expect("small");
        let items: Vec<String> = listpack::decode(&lp)
            .expect("valid")
            .iter()
            .map(|i| String::from_utf8_lossy(&i.to_vec()).into_owned())
            .collect();
        let want = [
            "3", "0", "1", "a", "0", // master entry
            "2", "0", "0", "1", "4", // 5-0, same fields
            "2", "0", "1", "x", "4", // 5-1, same fields
            "0", "1", "0", "2", "b", "2", "c", "3", "8", // 6-0, its own fields
        ];
        let want: Vec<String> = want.iter().map(|w| w.to_string()).collect();
        assert_eq!(items, want);
        // And it reads back into the same entries.
        let mut back = Stream::new();
        let decoded = listpack::decode(&lp).expect("valid");
        read_node(&mut back, *master, &decoded, lp.len()).expect("reads");
        let all = |s: &Stream| {
            s.range(StreamId::MIN, StreamId::MAX)
                .map(|(k, p)| (*k, p.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(all(&back), all(&s));
    }
}
