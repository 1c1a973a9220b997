//! The geo family: positions kept in sorted sets as 52-bit interleaved geohashes, as
//! Redis 7.0 keeps them (GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH, GEOSEARCHSTORE,
//! GEORADIUS, GEORADIUSBYMEMBER and their _RO forms).
//!
//! Everything that decides a reply follows Redis's arithmetic step by step, so results
//! match byte for byte: the encoding (offsets in the ranges [-180, 180] and
//! [-85.05112878, 85.05112878] scaled to 2^26 and truncated, latitude bits in the even
//! positions), the decoding (the centre of the cell), the haversine distance with
//! Redis's earth radius, the choice of the nine cells a search visits and the order it
//! visits them in (which is the reply order when no sorting is asked for).

use std::cmp::Ordering;

use engine::types::ZSet;
use resp::ReplyWriter;

use super::util::eq_ic;
use super::util::parse_f64;
use super::util::parse_i64;
use super::zsets::{build, limits, zadd_core, zset_of, AddFlags, ScoreRange};
use crate::ctx::Ctx;
use crate::errors;
use crate::spec::Handler;

/// (spec name, handler) for every command this family serves.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("geoadd", geoadd),
        ("geodist", geodist),
        ("geohash", geohash),
        ("geopos", geopos),
        ("geosearch", geosearch),
        ("geosearchstore", geosearchstore),
        ("georadius", georadius),
        ("georadius_ro", georadius_ro),
        ("georadiusbymember", georadiusbymember),
        ("georadiusbymember_ro", georadiusbymember_ro),
    ]
}

// ---------------------------------------------------------------------------------------
// Geohash arithmetic
// ---------------------------------------------------------------------------------------

const STEP_MAX: u32 = 26;
const LAT_MIN: f64 = -85.05112878;
const LAT_MAX: f64 = 85.05112878;
const LONG_MIN: f64 = -180.0;
const LONG_MAX: f64 = 180.0;
const EARTH_RADIUS_M: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bits {
    bits: u64,
    step: u32,
}

impl Bits {
    const ZERO: Bits = Bits { bits: 0, step: 0 };

    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The hash as a 52-bit score prefix.
    fn align52(&self) -> u64 {
        self.bits << (52 - self.step * 2)
    }
}

#[derive(Clone, Copy, Debug)]
struct Range {
    min: f64,
    max: f64,
}

const WGS84_LONG: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

#[derive(Clone, Copy, Debug)]
struct Area {
    lon: Range,
    lat: Range,
}

/// Spreads the 32 bits of `v` to the even bit positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

/// Gathers the even bits of `x` into a u32.
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Latitude bits in the even positions, longitude bits in the odd ones.
fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

/// Inverse of [`interleave`]: (latitude bits, longitude bits).
fn deinterleave(h: u64) -> (u32, u32) {
    (squash(h), squash(h >> 1))
}

/// Redis's `geohashEncode`: None outside the Web Mercator limits or the ranges.
fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u32) -> Option<Bits> {
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    Some(Bits {
        bits: interleave(lat_off as u32, lon_off as u32),
        step,
    })
}

fn decode(h: Bits) -> Area {
    let (ilat, ilon) = deinterleave(h.bits);
    let div = (1u64 << h.step) as f64;
    let lat_scale = WGS84_LAT.max - WGS84_LAT.min;
    let lon_scale = WGS84_LONG.max - WGS84_LONG.min;
    Area {
        lat: Range {
            min: WGS84_LAT.min + (f64::from(ilat) / div) * lat_scale,
            max: WGS84_LAT.min + ((f64::from(ilat) + 1.0) / div) * lat_scale,
        },
        lon: Range {
            min: WGS84_LONG.min + (f64::from(ilon) / div) * lon_scale,
            max: WGS84_LONG.min + ((f64::from(ilon) + 1.0) / div) * lon_scale,
        },
    }
}

/// The position a score stands for: the centre of its cell, clamped to the limits.
fn score_to_lonlat(score: f64) -> (f64, f64) {
    let a = decode(Bits {
        bits: score as u64,
        step: STEP_MAX,
    });
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The score GEOADD stores for a position.
fn lonlat_to_score(lon: f64, lat: f64) -> f64 {
    encode(WGS84_LONG, WGS84_LAT, lon, lat, STEP_MAX).map_or(0.0, |b| b.align52() as f64)
}

fn deg_rad(d: f64) -> f64 {
    d * (std::f64::consts::PI / 180.0)
}

fn rad_deg(r: f64) -> f64 {
    r / (std::f64::consts::PI / 180.0)
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Haversine great-circle distance in meters, as Redis computes it.
fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lon1r, lon2r) = (deg_rad(lon1), deg_rad(lon2));
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

fn move_x(h: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let mut x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> (64 - h.step * 2);
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - h.step * 2);
    h.bits = x | y;
}

fn move_y(h: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - h.step * 2);
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555_5555_5555_5555u64 >> (64 - h.step * 2);
    h.bits = x | y;
}

/// The eight neighbours of a cell: north, south, east, west, north-east, north-west,
/// south-east, south-west.
struct Neighbors {
    north: Bits,
    south: Bits,
    east: Bits,
    west: Bits,
    north_east: Bits,
    north_west: Bits,
    south_east: Bits,
    south_west: Bits,
}

fn neighbors(h: Bits) -> Neighbors {
    let at = |dx: i8, dy: i8| {
        let mut b = h;
        move_x(&mut b, dx);
        move_y(&mut b, dy);
        b
    };
    Neighbors {
        east: at(1, 0),
        west: at(-1, 0),
        south: at(0, -1),
        north: at(0, 1),
        north_west: at(-1, 1),
        south_west: at(-1, -1),
        north_east: at(1, 1),
        south_east: at(1, -1),
    }
}

fn estimate_steps(range_m: f64, lat: f64) -> u32 {
    if range_m == 0.0 {
        return 26;
    }
    let mut range_m = range_m;
    let mut step: i32 = 1;
    while range_m < MERCATOR_MAX {
        range_m *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u32
}

#[derive(Clone, Copy, Debug)]
enum ShapeKind {
    Circle { radius: f64 },
    Rect { width: f64, height: f64 },
}

/// A search area: its centre, its size in the user's unit, and the unit in meters.
#[derive(Clone, Copy, Debug)]
struct Shape {
    lon: f64,
    lat: f64,
    kind: ShapeKind,
    conversion: f64,
}

impl Shape {
    /// (min lon, min lat, max lon, max lat) around the shape.
    fn bounds(&self) -> [f64; 4] {
        let (h, w) = match self.kind {
            ShapeKind::Circle { radius } => (radius, radius),
            ShapeKind::Rect { width, height } => (height / 2.0, width / 2.0),
        };
        let (height, width) = (self.conversion * h, self.conversion * w);
        let lat_delta = rad_deg(height / EARTH_RADIUS_M);
        let long_top = rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat + lat_delta).cos());
        let long_bottom = rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat - lat_delta).cos());
        let south = self.lat < 0.0;
        let d = if south { long_bottom } else { long_top };
        [
            self.lon - d,
            self.lat - lat_delta,
            self.lon + d,
            self.lat + lat_delta,
        ]
    }

    /// The distance to `(lon, lat)` if it lies in the shape.
    fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.kind {
            ShapeKind::Circle { radius } => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= radius * self.conversion).then_some(d)
            }
            ShapeKind::Rect { width, height } => {
                let (w, h) = (width * self.conversion, height * self.conversion);
                if lat_distance(lat, self.lat) > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// The cells to visit, in Redis's order: the centre's, then N, S, E, W, NE, NW, SE,
    /// SW (zero for cells that cannot hold a match).
    fn cells(&self) -> [Bits; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let radius_m = match self.kind {
            ShapeKind::Circle { radius } => radius,
            ShapeKind::Rect { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conversion;
        let mut steps = estimate_steps(radius_m, self.lat);
        let enc = |steps| {
            encode(WGS84_LONG, WGS84_LAT, self.lon, self.lat, steps).unwrap_or(Bits {
                bits: 0,
                step: steps,
            })
        };
        let mut hash = enc(steps);
        let mut n = neighbors(hash);
        let mut area = decode(hash);
        let decrease = decode(n.north).lat.max < max_lat
            || decode(n.south).lat.min > min_lat
            || decode(n.east).lon.max < max_lon
            || decode(n.west).lon.min > min_lon;
        if steps > 1 && decrease {
            steps -= 1;
            hash = enc(steps);
            n = neighbors(hash);
            area = decode(hash);
        }
        if steps >= 2 {
            if area.lat.min < min_lat {
                n.south = Bits::ZERO;
                n.south_west = Bits::ZERO;
                n.south_east = Bits::ZERO;
            }
            if area.lat.max > max_lat {
                n.north = Bits::ZERO;
                n.north_east = Bits::ZERO;
                n.north_west = Bits::ZERO;
            }
            if area.lon.min < min_lon {
                n.west = Bits::ZERO;
                n.south_west = Bits::ZERO;
                n.north_west = Bits::ZERO;
            }
            if area.lon.max > max_lon {
                n.east = Bits::ZERO;
                n.south_east = Bits::ZERO;
                n.north_east = Bits::ZERO;
            }
        }
        [
            hash,
            n.north,
            n.south,
            n.east,
            n.west,
            n.north_east,
            n.north_west,
            n.south_east,
            n.south_west,
        ]
    }
}

/// A search result.
struct Point {
    member: Vec<u8>,
    score: f64,
    lon: f64,
    lat: f64,
    dist: f64,
}

/// The members of `z` in `shape`, found as Redis finds them (cell by cell, each cell in
/// score order); stops after `limit` matches when `limit` is not 0 (ANY).
fn search_shape(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let cells = shape.cells();
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        // Adjacent cells can be the same one for huge radiuses: skip repeats of the
        // previously visited cell (Redis never compares with the centre cell).
        if let Some(l) = last.filter(|&l| l != 0) {
            if cells[l] == *cell {
                continue;
            }
        }
        if limit != 0 && out.len() >= limit {
            break;
        }
        let min = cell.align52() as f64;
        let max = Bits {
            bits: cell.bits + 1,
            step: cell.step,
        }
        .align52() as f64;
        let range = ScoreRange {
            min,
            max,
            minex: false,
            maxex: true,
        };
        let (lo, hi) = range.ranks(z);
        if hi > lo {
            let mut done = false;
            z.range(lo, hi - 1, false, |m, s| {
                if done {
                    return;
                }
                let (lon, lat) = score_to_lonlat(s);
                if let Some(dist) = shape.contains(lon, lat) {
                    out.push(Point {
                        member: m.to_vec(),
                        score: s,
                        lon,
                        lat,
                        dist,
                    });
                }
                if limit != 0 && out.len() >= limit {
                    done = true;
                }
            });
        }
        last = Some(i);
    }
    out
}

/// Redis's partial quicksort (`pqsort`, Bentley and McIlroy's quicksort that only
/// recurses into parts overlapping positions `lrange..=rrange`). GEO searches with a
/// COUNT sort with it, so the order of equally distant results depends on it: it is
/// reproduced step for step, as Redis 7.0 has it (without the switch to insertion sort
/// after a partition that swapped nothing, which later versions added: checked against
/// redis-server 7.0.15 on searches full of ties).
fn pqsort<T>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> Ordering, lrange: usize, rrange: usize) {
    pqsort_part(v, 0, v.len(), cmp, lrange, rrange);
}

fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &dyn Fn(&T, &T) -> Ordering) -> usize {
    let lt = |x: usize, y: usize| cmp(&v[x], &v[y]) == Ordering::Less;
    let gt = |x: usize, y: usize| cmp(&v[x], &v[y]) == Ordering::Greater;
    if lt(a, b) {
        if lt(b, c) {
            b
        } else if lt(a, c) {
            c
        } else {
            a
        }
    } else if gt(b, c) {
        b
    } else if lt(a, c) {
        a
    } else {
        c
    }
}

fn insertion_sort<T>(v: &mut [T], a: usize, n: usize, cmp: &dyn Fn(&T, &T) -> Ordering) {
    for m in a + 1..a + n {
        let mut l = m;
        while l > a && cmp(&v[l - 1], &v[l]) == Ordering::Greater {
            v.swap(l, l - 1);
            l -= 1;
        }
    }
}

fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for k in 0..n {
        v.swap(a + k, b + k);
    }
}

fn pqsort_part<T>(
    v: &mut [T],
    mut a: usize,
    mut n: usize,
    cmp: &dyn Fn(&T, &T) -> Ordering,
    lrange: usize,
    rrange: usize,
) {
    // Whether the part [s, s + len) holds any of the positions to sort.
    let wanted = |s: usize, len: usize| !(rrange < s || lrange >= s + len);
    loop {
        if n < 7 {
            return insertion_sort(v, a, n, cmp);
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let c = cmp(&v[pb], &v[a]);
                if c == Ordering::Greater {
                    break;
                }
                if c == Ordering::Equal {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let c = cmp(&v[pc], &v[a]);
                if c == Ordering::Less {
                    break;
                }
                if c == Ordering::Equal {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && wanted(a, r) {
            pqsort_part(v, a, r, cmp, lrange, rrange);
        }
        let r = pd - pc;
        if r > 1 {
            a = pn - r;
            n = r;
            if wanted(a, n) {
                continue;
            }
        }
        return;
    }
}

// ---------------------------------------------------------------------------------------
// Argument parsing and reply helpers
// ---------------------------------------------------------------------------------------

/// `(lon, lat)` from two arguments, checked against the limits.
fn parse_lonlat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), String> {
    let lon = parse_f64(lon).ok_or_else(|| errors::NOT_FLOAT.to_string())?;
    let lat = parse_f64(lat).ok_or_else(|| errors::NOT_FLOAT.to_string())?;
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return Err(errors::geo_invalid_lonlat(lon, lat));
    }
    Ok((lon, lat))
}

/// Meters per unit (m, km, ft, mi, any case).
fn parse_unit(u: &[u8]) -> Result<f64, &'static str> {
    if eq_ic(u, b"m") {
        Ok(1.0)
    } else if eq_ic(u, b"km") {
        Ok(1000.0)
    } else if eq_ic(u, b"ft") {
        Ok(0.3048)
    } else if eq_ic(u, b"mi") {
        Ok(1609.34)
    } else {
        Err(errors::GEO_UNIT)
    }
}

/// `radius unit`: (radius, meters per unit).
fn parse_distance(r: &[u8], unit: &[u8]) -> Result<(f64, f64), &'static str> {
    let d = parse_f64(r).ok_or(errors::GEO_NEED_RADIUS)?;
    if d < 0.0 {
        return Err(errors::GEO_NEGATIVE_RADIUS);
    }
    Ok((d, parse_unit(unit)?))
}

/// A distance reply: `%.4f` as a bulk string (in RESP3 too).
fn reply_distance(out: &mut ReplyWriter, d: f64) {
    out.bulk(format!("{d:.4}").as_bytes());
}

/// A coordinate as Redis's `addReplyHumanLongDouble` writes it: `%.17Lf` without
/// trailing zeros; a bulk string in RESP2, a double in RESP3.
fn reply_coord(out: &mut ReplyWriter, v: f64) {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(t);
    }
    if s == "-0" {
        s = "0".into();
    }
    if out.is_resp3() {
        out.raw(b",");
        out.raw(s.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(s.as_bytes());
    }
}

/// The score of `member` in the sorted set at `key` (no statistics counted), or
/// None (missing key or member); Err on another type.
fn member_score(ctx: &mut Ctx<'_, '_>, key: &[u8], member: &[u8]) -> Result<Option<f64>, ()> {
    let (db, now) = (ctx.db(), ctx.now_ms);
    match ctx.ks.get_for_write(db, key, now) {
        None => Ok(None),
        Some(e) => match zset_of(&e.value) {
            None => Err(()),
            Some(z) => Ok(z.score(member)),
        },
    }
}

/// Looks `key` up as a read (counting a hit or miss): Ok(true) for a sorted set,
/// Ok(false) when missing, Err(()) after replying WRONGTYPE.
fn lookup_read(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<bool, ()> {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let touch = super::util::touches(ctx);
    let r = match ctx.ks.get(db, key, now) {
        None => Ok(false),
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            if zset_of(&e.value).is_some() {
                Ok(true)
            } else {
                Err(())
            }
        }
    };
    if r.is_err() {
        ctx.error(errors::WRONGTYPE);
    }
    r
}

// ---------------------------------------------------------------------------------------
// GEOADD, GEODIST, GEOHASH, GEOPOS
// ---------------------------------------------------------------------------------------

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]
fn geoadd(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let mut f = AddFlags::default();
    let mut ch = false;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if eq_ic(a, b"nx") {
            f.nx = true;
        } else if eq_ic(a, b"xx") {
            f.xx = true;
        } else if eq_ic(a, b"ch") {
            ch = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &argv[i..];
    if rest.len() % 3 != 0 || (f.xx && f.nx) {
        return ctx.error(errors::SYNTAX);
    }
    let mut scores = Vec::with_capacity(rest.len() / 3);
    let mut members = Vec::with_capacity(rest.len() / 3);
    for t in rest.chunks_exact(3) {
        match parse_lonlat(t[0], t[1]) {
            Ok((lon, lat)) => scores.push(lonlat_to_score(lon, lat)),
            Err(e) => return ctx.error(&e),
        }
        members.push(t[2]);
    }
    if members.is_empty() {
        return ctx.error(errors::SYNTAX);
    }
    zadd_core(ctx, argv[1], f, ch, &scores, &members);
}

/// GEODIST key member1 member2 [M|KM|FT|MI]
fn geodist(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let mut to_meter = 1.0;
    if argv.len() == 5 {
        match parse_unit(argv[4]) {
            Ok(u) => to_meter = u,
            Err(e) => return ctx.error(e),
        }
    } else if argv.len() > 5 {
        return ctx.error(errors::SYNTAX);
    }
    let (db, now) = (ctx.db(), ctx.now_ms);
    let touch = super::util::touches(ctx);
    let wrong = match ctx.ks.get(db, argv[1], now) {
        None => {
            ctx.out.null();
            false
        }
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            match zset_of(&e.value) {
                None => true,
                Some(z) => {
                    match (z.score(argv[2]), z.score(argv[3])) {
                        (Some(a), Some(b)) => {
                            let (lon1, lat1) = score_to_lonlat(a);
                            let (lon2, lat2) = score_to_lonlat(b);
                            reply_distance(ctx.out, distance(lon1, lat1, lon2, lat2) / to_meter);
                        }
                        _ => ctx.out.null(),
                    }
                    false
                }
            }
        }
    };
    if wrong {
        ctx.error(errors::WRONGTYPE);
    }
}

/// Runs `f` with the sorted set at `key` (None when missing), or replies WRONGTYPE.
fn with_zset(ctx: &mut Ctx<'_, '_>, key: &[u8], f: impl FnOnce(Option<&ZSet>, &mut ReplyWriter)) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let touch = super::util::touches(ctx);
    let wrong = match ctx.ks.get(db, key, now) {
        None => {
            f(None, ctx.out);
            false
        }
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            match zset_of(&e.value) {
                None => true,
                Some(z) => {
                    f(Some(z), ctx.out);
                    false
                }
            }
        }
    };
    if wrong {
        ctx.error(errors::WRONGTYPE);
    }
}

/// GEOHASH key [member ...]: standard 11-character geohashes.
fn geohash(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let members = &argv[2..];
    with_zset(ctx, argv[1], |z, out| {
        out.array(members.len());
        for m in members {
            let Some(score) = z.and_then(|z| z.score(m)) else {
                out.null();
                continue;
            };
            let (lon, lat) = score_to_lonlat(score);
            // Re-encoded with the standard latitude range [-90, 90].
            let lat_r = Range {
                min: -90.0,
                max: 90.0,
            };
            let bits = encode(WGS84_LONG, lat_r, lon, lat, 26).map_or(0, |b| b.bits);
            let mut buf = [0u8; 11];
            for (i, slot) in buf.iter_mut().enumerate() {
                let idx = if i == 10 {
                    0
                } else {
                    ((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize
                };
                *slot = ALPHABET[idx];
            }
            out.bulk(&buf);
        }
    });
}

/// GEOPOS key [member ...]
fn geopos(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let members = &argv[2..];
    with_zset(ctx, argv[1], |z, out| {
        out.array(members.len());
        for m in members {
            match z.and_then(|z| z.score(m)) {
                None => out.null_array(),
                Some(score) => {
                    let (lon, lat) = score_to_lonlat(score);
                    out.array(2);
                    reply_coord(out, lon);
                    reply_coord(out, lat);
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------------------
// GEORADIUS, GEORADIUSBYMEMBER, GEOSEARCH, GEOSEARCHSTORE
// ---------------------------------------------------------------------------------------

const BY_COORDS: u8 = 1;
const BY_MEMBER: u8 = 2;
const NO_STORE: u8 = 4;
const SEARCH: u8 = 8;
const SEARCH_STORE: u8 = 16;

/// GEORADIUS key longitude latitude radius M|KM|FT|MI [options]
fn georadius(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    radius_generic(ctx, argv, 1, BY_COORDS);
}

/// GEORADIUS_RO: GEORADIUS without STORE.
fn georadius_ro(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    radius_generic(ctx, argv, 1, BY_COORDS | NO_STORE);
}

/// GEORADIUSBYMEMBER key member radius M|KM|FT|MI [options]
fn georadiusbymember(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    radius_generic(ctx, argv, 1, BY_MEMBER);
}

/// GEORADIUSBYMEMBER_RO: GEORADIUSBYMEMBER without STORE.
fn georadiusbymember_ro(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    radius_generic(ctx, argv, 1, BY_MEMBER | NO_STORE);
}

/// GEOSEARCH key FROMMEMBER m|FROMLONLAT lon lat BYRADIUS r unit|BYBOX w h unit [options]
fn geosearch(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    radius_generic(ctx, argv, 1, SEARCH);
}

/// GEOSEARCHSTORE dst src ... [STOREDIST]
fn geosearchstore(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    radius_generic(ctx, argv, 2, SEARCH | SEARCH_STORE);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// Redis's `georadiusGeneric`, step by step: the source's type, the centre (and radius)
/// of the old commands, every option in order, the conflicts, then the search.
fn radius_generic(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], src_at: usize, flags: u8) {
    let src = argv[src_at];
    let exists = match lookup_read(ctx, src) {
        Ok(e) => e,
        Err(()) => return,
    };
    let mut storekey: Option<&[u8]> = (flags & SEARCH_STORE != 0).then(|| argv[1]);
    let mut storedist = false;
    let mut center: Option<(f64, f64)> = None;
    let mut kind: Option<ShapeKind> = None;
    let mut conversion = 1.0;
    let base: usize;
    if flags & BY_COORDS != 0 {
        base = 6;
        match parse_lonlat(argv[2], argv[3]) {
            Ok(c) => center = Some(c),
            Err(e) => return ctx.error(&e),
        }
        match parse_distance(argv[4], argv[5]) {
            Ok((r, c)) => {
                kind = Some(ShapeKind::Circle { radius: r });
                conversion = c;
            }
            Err(e) => return ctx.error(e),
        }
    } else if flags & BY_MEMBER != 0 {
        base = 5;
        if exists {
            match member_score(ctx, src, argv[2]) {
                Ok(Some(s)) => center = Some(score_to_lonlat(s)),
                _ => return ctx.error(errors::GEO_MEMBER_DECODE),
            }
            match parse_distance(argv[3], argv[4]) {
                Ok((r, c)) => {
                    kind = Some(ShapeKind::Circle { radius: r });
                    conversion = c;
                }
                Err(e) => return ctx.error(e),
            }
        }
    } else {
        base = if flags & SEARCH_STORE != 0 { 3 } else { 2 };
    }
    let (mut withdist, mut withhash, mut withcoord) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: i64 = 0;
    let search = flags & SEARCH != 0;
    let rest = &argv[base.min(argv.len())..];
    let remaining = rest.len();
    let mut i = 0;
    while i < remaining {
        let a = rest[i];
        if eq_ic(a, b"withdist") {
            withdist = true;
        } else if eq_ic(a, b"withhash") {
            withhash = true;
        } else if eq_ic(a, b"withcoord") {
            withcoord = true;
        } else if eq_ic(a, b"any") {
            any = true;
        } else if eq_ic(a, b"asc") {
            sort = Sort::Asc;
        } else if eq_ic(a, b"desc") {
            sort = Sort::Desc;
        } else if eq_ic(a, b"count") && i + 1 < remaining {
            match parse_i64(rest[i + 1]) {
                None => return ctx.error(errors::NOT_INTEGER),
                Some(n) if n <= 0 => return ctx.error(errors::GEO_COUNT),
                Some(n) => count = n,
            }
            i += 1;
        } else if (eq_ic(a, b"store") || eq_ic(a, b"storedist"))
            && i + 1 < remaining
            && flags & NO_STORE == 0
            && !search
        {
            storekey = Some(rest[i + 1]);
            storedist = eq_ic(a, b"storedist");
            i += 1;
        } else if eq_ic(a, b"storedist") && search && flags & SEARCH_STORE != 0 {
            storedist = true;
        } else if eq_ic(a, b"frommember") && i + 1 < remaining && search && !fromloc {
            if exists {
                match member_score(ctx, src, rest[i + 1]) {
                    Ok(Some(s)) => center = Some(score_to_lonlat(s)),
                    _ => return ctx.error(errors::GEO_MEMBER_DECODE),
                }
            }
            frommember = true;
            i += 1;
        } else if eq_ic(a, b"fromlonlat") && i + 2 < remaining && search && !frommember {
            match parse_lonlat(rest[i + 1], rest[i + 2]) {
                Ok(c) => center = Some(c),
                Err(e) => return ctx.error(&e),
            }
            fromloc = true;
            i += 2;
        } else if eq_ic(a, b"byradius") && i + 2 < remaining && search && !bybox {
            match parse_distance(rest[i + 1], rest[i + 2]) {
                Ok((r, c)) => {
                    kind = Some(ShapeKind::Circle { radius: r });
                    conversion = c;
                }
                Err(e) => return ctx.error(e),
            }
            byradius = true;
            i += 2;
        } else if eq_ic(a, b"bybox") && i + 3 < remaining && search && !byradius {
            let w = match parse_f64(rest[i + 1]) {
                Some(w) => w,
                None => return ctx.error(errors::GEO_NEED_WIDTH),
            };
            let h = match parse_f64(rest[i + 2]) {
                Some(h) => h,
                None => return ctx.error(errors::GEO_NEED_HEIGHT),
            };
            if h < 0.0 || w < 0.0 {
                return ctx.error(errors::GEO_NEGATIVE_BOX);
            }
            match parse_unit(rest[i + 3]) {
                Ok(c) => conversion = c,
                Err(e) => return ctx.error(e),
            }
            kind = Some(ShapeKind::Rect {
                width: w,
                height: h,
            });
            bybox = true;
            i += 3;
        } else {
            return ctx.error(errors::SYNTAX);
        }
        i += 1;
    }
    if (storekey.is_some() || storedist) && (withdist || withhash || withcoord) {
        return ctx.error(if flags & SEARCH_STORE != 0 {
            errors::GEOSEARCHSTORE_WITH
        } else {
            errors::GEORADIUS_STORE_WITH
        });
    }
    let name = String::from_utf8_lossy(argv[0]);
    if search && !(frommember || fromloc) {
        return ctx.error(&errors::geo_need_from(&name));
    }
    if search && !(byradius || bybox) {
        return ctx.error(&errors::geo_need_by(&name));
    }
    if any && count == 0 {
        return ctx.error(errors::GEO_ANY_NEEDS_COUNT);
    }
    let (db, now) = (ctx.db(), ctx.now_ms);
    if !exists {
        match storekey {
            Some(k) => {
                if ctx.ks.remove(db, k, now).is_some() {
                    ctx.notify(crate::pubsub::class::GENERIC, "del", k);
                }
                ctx.out.int(0);
            }
            None => ctx.out.array(0),
        }
        return;
    }
    let (Some((lon, lat)), Some(kind)) = (center, kind) else {
        // Cannot happen: every path that reaches here set both.
        return ctx.error(errors::SYNTAX);
    };
    let shape = Shape {
        lon,
        lat,
        kind,
        conversion,
    };
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let limit = if any {
        usize::try_from(count).unwrap_or(usize::MAX)
    } else {
        0
    };
    let mut points = match ctx.ks.get_for_write(db, src, now) {
        Some(e) => match zset_of(&e.value) {
            Some(z) => search_shape(z, &shape, limit),
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    if points.is_empty() && storekey.is_none() {
        return ctx.out.array(0);
    }
    let returned = if count == 0 {
        points.len()
    } else {
        points
            .len()
            .min(usize::try_from(count).unwrap_or(usize::MAX))
    };
    if sort != Sort::None {
        let asc = |a: &Point, b: &Point| a.dist.partial_cmp(&b.dist).unwrap_or(Ordering::Equal);
        let desc = |a: &Point, b: &Point| asc(b, a);
        let cmp: &dyn Fn(&Point, &Point) -> Ordering = if sort == Sort::Asc { &asc } else { &desc };
        if returned == points.len() {
            // Redis sorts everything with the C library's qsort: glibc's is a stable
            // merge sort, as Rust's sort is.
            points.sort_by(cmp);
        } else if returned > 0 {
            pqsort(&mut points, cmp, 0, returned - 1);
        }
    }
    points.truncate(returned);
    for p in points.iter_mut() {
        p.dist /= conversion;
    }
    match storekey {
        None => {
            let options = usize::from(withdist) + usize::from(withhash) + usize::from(withcoord);
            let out = &mut *ctx.out;
            out.array(points.len());
            for p in &points {
                if options > 0 {
                    out.array(options + 1);
                }
                out.bulk(&p.member);
                if withdist {
                    reply_distance(out, p.dist);
                }
                if withhash {
                    out.int(p.score as i64);
                }
                if withcoord {
                    out.array(2);
                    reply_coord(out, p.lon);
                    reply_coord(out, p.lat);
                }
            }
        }
        Some(dst) => {
            let n = points.len();
            let items = points
                .into_iter()
                .map(|p| (p.member, if storedist { p.dist } else { p.score }))
                .collect();
            let z = build(items, &limits(ctx));
            if n == 0 {
                if ctx.ks.remove(db, dst, now).is_some() {
                    ctx.notify(crate::pubsub::class::GENERIC, "del", dst);
                }
            } else {
                let e = super::util::new_entry(dst, engine::Value::ZSet(z), &ctx.access);
                ctx.ks.insert(db, e, now);
                let event = if search {
                    "geosearchstore"
                } else {
                    "georadiusstore"
                };
                ctx.notify(crate::pubsub::class::ZSET, event, dst);
            }
            ctx.out.int(n as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::util::testkit::Kit;
    use super::*;

    #[test]
    fn encoding_matches_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" stores 3479099956230698.
        assert_eq!(lonlat_to_score(13.361389, 38.115556), 3479099956230698.0);
        assert_eq!(lonlat_to_score(15.087269, 37.502669), 3479447370796909.0);
        let (lon, lat) = score_to_lonlat(3479099956230698.0);
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        for v in [0u32, 1, 0xffff_ffff, 0x1234_5678] {
            for w in [0u32, 7, 0x8000_0001] {
                assert_eq!(deinterleave(interleave(v, w)), (v, w));
            }
        }
    }

    #[test]
    fn pqsort_sorts_the_asked_range() {
        let mut rng = 12345u64;
        for n in [0usize, 1, 5, 7, 8, 40, 41, 100, 500] {
            for k in [1usize, 3, 10, 50] {
                let mut v: Vec<(u32, usize)> = (0..n)
                    .map(|i| {
                        rng = rng
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (((rng >> 33) % 20) as u32, i)
                    })
                    .collect();
                let mut want: Vec<u32> = v.iter().map(|x| x.0).collect();
                want.sort();
                let k = k.min(n);
                if k == 0 {
                    continue;
                }
                pqsort(
                    &mut v,
                    &|a: &(u32, usize), b: &(u32, usize)| a.0.cmp(&b.0),
                    0,
                    k - 1,
                );
                let got: Vec<u32> = v[..k].iter().map(|x| x.0).collect();
                assert_eq!(got, want[..k], "n={n} k={k}");
                let mut ids: Vec<usize> = v.iter().map(|x| x.1).collect();
                ids.sort();
                assert_eq!(ids, (0..n).collect::<Vec<_>>(), "a permutation");
            }
        }
    }

    #[test]
    fn commands_match_redis_examples() {
        let mut k = Kit::new();
        assert_eq!(
            k.run("geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"),
            ":2\r\n"
        );
        assert_eq!(
            k.run("geodist Sicily Palermo Catania km"),
            "$8\r\n166.2742\r\n"
        );
        assert_eq!(
            k.run("geohash Sicily Palermo Catania"),
            "*2\r\n$11\r\nsqc8b49rny0\r\n$11\r\nsqdtr74hyu0\r\n"
        );
        assert_eq!(
            k.run("geosearch Sicily fromlonlat 15 37 byradius 200 km asc"),
            "*2\r\n$7\r\nCatania\r\n$7\r\nPalermo\r\n"
        );
        assert_eq!(
            k.run("geoadd Sicily 200 100 x"),
            "-ERR invalid longitude,latitude pair 200.000000,100.000000\r\n"
        );
        k.inst.ks.check_accounting();
    }
}
