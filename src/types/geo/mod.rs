//! The geo commands. A geo key is a sorted set whose scores are 52-bit
//! interleaved geohashes (`geohash.rs`), so ZRANGE, ZREM and the rest
//! work on it, GEOADD is ZADD with the positions encoded (and propagates
//! as that ZADD), and a search scans the score ranges of at most nine
//! cells around its centre, in Redis's order, keeping the points inside
//! the shape. Results are ordered by Redis's own sorts (`crate::csort`), so
//! ties come out as redis-server returns them.
//!
//! The file holds the helpers first, then the commands.

mod geohash;

use bytes::Bytes;

use crate::cmd::{CmdError, CmdResult, Ctx, arg_i64};
use crate::db::Value;
use crate::effects::class;
use crate::resp::Reply;
use crate::types::read_as;
use crate::types::zset::{AddOpts, Dir, ListpackLimits, ZSet};
use crate::util::{eq_ic_c as is, parse_score};
use geohash::{Extent, Shape};

/// `d` through C's `snprintf` with `format`, which takes one double.
fn c_format(format: &std::ffi::CStr, d: f64) -> String {
    // "%f" of the largest double is 316 characters.
    let mut buf = [0u8; 400];
    // SAFETY: the buffer is valid for its length, the format is a
    // NUL-terminated literal taking one double, and snprintf truncates.
    let n = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            format.as_ptr(),
            d,
        )
    };
    let n = (n.max(0) as usize).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// A coordinate as Redis's addReplyHumanLongDouble prints it: 17
/// decimals with the trailing zeros (and a bare point) removed; a bulk
/// string in RESP2, a double in RESP3.
fn reply_coordinate(out: &mut Reply, d: f64) {
    let mut text = c_format(c"%.17f", d);
    if text.contains('.') {
        let kept = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(kept);
    }
    if text == "-0" {
        text = "0".into();
    }
    if out.is_resp3() {
        out.raw(format!(",{text}\r\n").as_bytes());
    } else {
        out.bulk(text.as_bytes());
    }
}

/// A distance as Redis's addReplyDoubleDistance gives it: rounded to 4
/// decimals (llrint, ties to even), always as a bulk string.
fn reply_distance(out: &mut Reply, d: f64) {
    if d == 0.0 {
        out.bulk(b"0.0000");
        return;
    }
    let scaled = geohash::c_double_to_i64((d * 10000.0).round_ties_even());
    let sign = if scaled < 0 { "-" } else { "" };
    let v = scaled.unsigned_abs();
    out.bulk(format!("{sign}{}.{:04}", v / 10000, v % 10000).as_bytes());
}

/// A longitude and latitude argument pair, in the geo ranges
/// (extractLongLatOrReply).
fn parse_lon_lat(lon: &[u8], lat: &[u8]) -> Result<[f64; 2], CmdError> {
    let lon = parse_score(lon).ok_or(CmdError::NotFloat)?;
    let lat = parse_score(lat).ok_or(CmdError::NotFloat)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&lon)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(CmdError::err(format!(
            "invalid longitude,latitude pair {},{}",
            c_format(c"%f", lon),
            c_format(c"%f", lat)
        )));
    }
    Ok([lon, lat])
}

/// A unit's size in meters (extractUnitOrReply).
fn parse_unit(arg: &[u8]) -> Result<f64, CmdError> {
    const UNITS: [(&str, f64); 4] = [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)];
    UNITS
        .iter()
        .find(|(name, _)| is(arg, name))
        .map(|&(_, meters)| meters)
        .ok_or_else(|| CmdError::err("unsupported unit provided. please use M, KM, FT, MI"))
}

/// `radius unit`: the radius and the unit's size in meters.
fn parse_radius(radius: &[u8], unit: &[u8]) -> Result<(f64, f64), CmdError> {
    let r = parse_score(radius).ok_or_else(|| CmdError::err("need numeric radius"))?;
    if r < 0.0 {
        return Err(CmdError::err("radius cannot be negative"));
    }
    Ok((r, parse_unit(unit)?))
}

/// `width height unit`.
fn parse_box(width: &[u8], height: &[u8], unit: &[u8]) -> Result<(Extent, f64), CmdError> {
    let w = parse_score(width).ok_or_else(|| CmdError::err("need numeric width"))?;
    let h = parse_score(height).ok_or_else(|| CmdError::err("need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::err("height or width cannot be negative"));
    }
    let extent = Extent::Box {
        width: w,
        height: h,
    };
    Ok((extent, parse_unit(unit)?))
}

/// The position of `member`, or Redis's error when it is missing.
fn member_position(z: &ZSet, member: &[u8]) -> Result<[f64; 2], CmdError> {
    z.score(member)
        .map(geohash::decode_score)
        .ok_or_else(|| CmdError::err("could not decode requested zset member"))
}

// ---------------------------------------------------------------------------
// Searching
// ---------------------------------------------------------------------------

/// One point found, with its distance from the centre in meters (in the
/// client's unit once the reply is written).
struct Point {
    xy: [f64; 2],
    dist: f64,
    score: f64,
    member: Vec<u8>,
}

/// Appends the points of `cell`'s score range that lie inside `shape`,
/// stopping once `limit` points (if not 0) are found
/// (geoGetPointsInRange).
fn points_in_cell(
    z: &ZSet,
    cell: geohash::Cell,
    shape: &Shape,
    found: &mut Vec<Point>,
    limit: usize,
) {
    let (min, max) = cell.score_range();
    let start = z.count_while(|s, _| s < min);
    for (member, score) in z.iter_from(start, Dir::Forward) {
        if score >= max {
            break;
        }
        if let Some((xy, dist)) = shape.contains(score) {
            found.push(Point {
                xy,
                dist,
                score,
                member: member.to_vec(),
            });
        }
        if limit != 0 && found.len() >= limit {
            break;
        }
    }
}

/// Every point inside `shape`, cell by cell in Redis's order, at most
/// `limit` if not 0 (membersOfAllNeighbors). A cell the same as the one
/// scanned last is skipped, as huge radii make neighbours coincide.
fn search(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let cells = shape.cells();
    let mut found = Vec::new();
    let mut last_scanned = 0;
    for (i, &cell) in cells.iter().enumerate() {
        if cell.is_zero() || (last_scanned != 0 && cell == cells[last_scanned]) {
            continue;
        }
        if limit != 0 && found.len() >= limit {
            break;
        }
        points_in_cell(z, cell, shape, &mut found, limit);
        last_scanned = i;
    }
    found
}

/// Redis's distance comparator, ascending: 1, 0 or -1.
fn by_distance(a: &Point, b: &Point) -> i32 {
    if a.dist > b.dist {
        1
    } else if a.dist == b.dist {
        0
    } else {
        -1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Unsorted,
    Asc,
    Desc,
}

/// Which command of the family runs: where its centre and extent come
/// from and what it may store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// GEORADIUS (`store`) and GEORADIUS_RO.
    Radius {
        store: bool,
    },
    /// GEORADIUSBYMEMBER (`store`) and GEORADIUSBYMEMBER_RO.
    ByMember {
        store: bool,
    },
    Search,
    SearchStore,
}

impl Form {
    fn source(self) -> usize {
        match self {
            Form::SearchStore => 2,
            _ => 1,
        }
    }

    fn may_store(self) -> bool {
        matches!(
            self,
            Form::Radius { store: true } | Form::ByMember { store: true }
        )
    }

    fn is_search(self) -> bool {
        matches!(self, Form::Search | Form::SearchStore)
    }
}

/// Where results go when stored, and with which score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    Hash,
    Dist,
}

/// A parsed search. `shape` is `None` only when the source key is
/// missing, where Redis skips reading the member's position.
struct Query {
    shape: Option<Shape>,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    sort: Sort,
    any: bool,
    count: i64,
    store: Option<(Bytes, Stored)>,
}

/// What a search's arguments have given so far: the centre, the extent
/// and its unit, and which of GEOSEARCH's FROM and BY options were seen.
#[derive(Default)]
struct Given {
    xy: Option<[f64; 2]>,
    extent: Option<(Extent, f64)>,
    from_member: bool,
    from_lonlat: bool,
    by_radius: bool,
    by_box: bool,
}

/// Parses a search's arguments in Redis's order (georadiusGeneric), so the
/// error a request gets is the first Redis meets. `z` is the source set,
/// whose members' positions FROMMEMBER and BYMEMBER read as they go.
fn parse_query(args: &[Bytes], form: Form, z: Option<&ZSet>) -> Result<Query, CmdError> {
    let mut given = Given::default();
    let base = match form {
        Form::Radius { .. } => {
            given.xy = Some(parse_lon_lat(&args[2], &args[3])?);
            let (r, m) = parse_radius(&args[4], &args[5])?;
            given.extent = Some((Extent::Radius(r), m));
            6
        }
        Form::ByMember { .. } => {
            // Without the key Redis reads neither the member nor the radius.
            if let Some(z) = z {
                given.xy = Some(member_position(z, &args[2])?);
                let (r, m) = parse_radius(&args[3], &args[4])?;
                given.extent = Some((Extent::Radius(r), m));
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => 3,
    };
    let mut q = Query {
        shape: None,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        sort: Sort::Unsorted,
        any: false,
        count: 0,
        store: (form == Form::SearchStore).then(|| (args[1].clone(), Stored::Hash)),
    };
    let opts = &args[base..];
    let mut i = 0;
    while i < opts.len() {
        i += 1 + parse_option(&mut q, &mut given, &opts[i..], args, form, z)?;
    }
    check_query(&q, &given, args, form)?;
    if let (Some(xy), Some((extent, to_meters))) = (given.xy, given.extent) {
        q.shape = Some(Shape {
            xy,
            extent,
            to_meters,
        });
    }
    Ok(q)
}

/// Applies the option at `opts[0]`; returns how many of its values
/// follow it. A word in the wrong command, or without its values, is a
/// syntax error.
fn parse_option(
    q: &mut Query,
    given: &mut Given,
    opts: &[Bytes],
    args: &[Bytes],
    form: Form,
    z: Option<&ZSet>,
) -> Result<usize, CmdError> {
    let arg = &opts[0];
    let left = opts.len() - 1;
    if is(arg, "withdist") {
        q.with_dist = true;
    } else if is(arg, "withhash") {
        q.with_hash = true;
    } else if is(arg, "withcoord") {
        q.with_coord = true;
    } else if is(arg, "any") {
        q.any = true;
    } else if is(arg, "asc") {
        q.sort = Sort::Asc;
    } else if is(arg, "desc") {
        q.sort = Sort::Desc;
    } else if is(arg, "count") && left >= 1 {
        q.count = arg_i64(&opts[1])?;
        if q.count <= 0 {
            return Err(CmdError::err("COUNT must be > 0"));
        }
        return Ok(1);
    } else if (is(arg, "store") || is(arg, "storedist")) && left >= 1 && form.may_store() {
        let kind = if is(arg, "store") {
            Stored::Hash
        } else {
            Stored::Dist
        };
        q.store = Some((opts[1].clone(), kind));
        return Ok(1);
    } else if is(arg, "storedist") && form == Form::SearchStore {
        q.store = Some((args[1].clone(), Stored::Dist));
    } else if is(arg, "frommember") && left >= 1 && form.is_search() && !given.from_lonlat {
        if let Some(z) = z {
            given.xy = Some(member_position(z, &opts[1])?);
        }
        given.from_member = true;
        return Ok(1);
    } else if is(arg, "fromlonlat") && left >= 2 && form.is_search() && !given.from_member {
        given.xy = Some(parse_lon_lat(&opts[1], &opts[2])?);
        given.from_lonlat = true;
        return Ok(2);
    } else if is(arg, "byradius") && left >= 2 && form.is_search() && !given.by_box {
        let (r, m) = parse_radius(&opts[1], &opts[2])?;
        given.extent = Some((Extent::Radius(r), m));
        given.by_radius = true;
        return Ok(2);
    } else if is(arg, "bybox") && left >= 3 && form.is_search() && !given.by_radius {
        given.extent = Some(parse_box(&opts[1], &opts[2], &opts[3])?);
        given.by_box = true;
        return Ok(3);
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(0)
}

/// The checks Redis makes once every option is read, in its order.
fn check_query(q: &Query, given: &Given, args: &[Bytes], form: Form) -> CmdResult {
    if q.store.is_some() && (q.with_dist || q.with_hash || q.with_coord) {
        let what = if form == Form::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(CmdError::err(format!(
            "{what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    if form.is_search() && !(given.from_member || given.from_lonlat) {
        return Err(CmdError::err_quoting(
            "exactly one of FROMMEMBER or FROMLONLAT can be specified for ",
            &args[0],
            "",
        ));
    }
    if form.is_search() && !(given.by_radius || given.by_box) {
        return Err(CmdError::err_quoting(
            "exactly one of BYRADIUS and BYBOX can be specified for ",
            &args[0],
            "",
        ));
    }
    if q.any && q.count == 0 {
        return Err(CmdError::err("the ANY argument requires COUNT argument"));
    }
    Ok(())
}

/// The family's shared body (Redis's georadiusGeneric).
fn search_generic(ctx: &mut Ctx, args: &[Bytes], form: Form) -> CmdResult {
    let (db, now) = (ctx.db_index, ctx.now_ms);
    // The source is looked up first: WRONGTYPE wins over every argument
    // error, and a missing member is an error only when the key exists.
    let z = read_as::<ZSet>(ctx.store, db, &args[form.source()], now)?.map(|z| &*z);
    let q = parse_query(args, form, z)?;
    let (Some(z), Some(shape)) = (z, q.shape) else {
        match q.store {
            Some((dst, _)) => {
                delete_destination(ctx, &dst);
                ctx.out.int(0);
            }
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    let mut sort = q.sort;
    // COUNT alone means the nearest ones, unless ANY asks for any.
    if q.count != 0 && sort == Sort::Unsorted && !q.any {
        sort = Sort::Asc;
    }
    let limit = if q.any { q.count as usize } else { 0 };
    let mut found = search(z, &shape, limit);
    let returned = if q.count == 0 || (found.len() as i64) < q.count {
        found.len()
    } else {
        q.count as usize
    };
    let cmp = match sort {
        Sort::Unsorted => None,
        Sort::Asc => Some(by_distance as fn(&Point, &Point) -> i32),
        Sort::Desc => Some((|a, b| -by_distance(a, b)) as fn(&Point, &Point) -> i32),
    };
    if let Some(cmp) = cmp {
        if returned == found.len() {
            crate::csort::merge_sort(&mut found, cmp);
        } else {
            crate::csort::partial_quicksort(&mut found, 0, returned - 1, cmp);
        }
    }
    found.truncate(returned);
    for p in &mut found {
        p.dist /= shape.to_meters;
    }
    match q.store {
        None => reply_points(ctx.out, &found, &q),
        Some((dst, kind)) => store_points(ctx, &dst, found, kind, form),
    }
    Ok(())
}

/// The search reply: members alone, or each as an array with what the
/// WITH options asked for, in Redis's order (distance, hash, position).
fn reply_points(out: &mut Reply, found: &[Point], q: &Query) {
    let extra = usize::from(q.with_dist) + usize::from(q.with_hash) + usize::from(q.with_coord);
    out.array(found.len());
    for p in found {
        if extra > 0 {
            out.array(extra + 1);
        }
        out.bulk(&p.member);
        if q.with_dist {
            reply_distance(out, p.dist);
        }
        if q.with_hash {
            out.int(geohash::c_double_to_i64(p.score));
        }
        if q.with_coord {
            out.array(2);
            reply_coordinate(out, p.xy[0]);
            reply_coordinate(out, p.xy[1]);
        }
    }
}

/// STORE, STOREDIST and GEOSEARCHSTORE: the results as a sorted set at
/// `dst` (scored by geohash or by distance), or `dst` deleted when there
/// are none.
fn store_points(ctx: &mut Ctx, dst: &Bytes, found: Vec<Point>, kind: Stored, form: Form) {
    let n = found.len();
    if n == 0 {
        delete_destination(ctx, dst);
        ctx.out.int(0);
        return;
    }
    let limits = ListpackLimits::of(ctx.store);
    let mut z = ZSet::for_len(limits, n);
    for p in &found {
        let score = match kind {
            Stored::Hash => p.score,
            Stored::Dist => p.dist,
        };
        // Members of one source are distinct, and a distance is never
        // NaN here unless Redis's own would be: nothing to report.
        let _ = z.add(score, &p.member, AddOpts::default(), limits);
    }
    let (db, now) = (ctx.db_index, ctx.now_ms);
    // As setKey: an expired destination goes first, so this makes a new key.
    ctx.store.dbs[db].lookup(dst, now);
    ctx.store.dbs[db].set_result(dst, Value::ZSet(z), now);
    let event = if form.is_search() {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    ctx.changed(class::ZSET, event, dst);
    ctx.dirty(n as u64);
    ctx.out.int(n as i64);
}

/// Deletes a destination an empty result leaves nothing for, as Redis's
/// dbDelete does (without an expiry check first).
fn delete_destination(ctx: &mut Ctx, dst: &[u8]) {
    let db = ctx.db_index;
    if ctx.store.dbs[db].remove(dst) {
        ctx.changed(class::GENERIC, "del", dst);
        ctx.dirty(1);
    }
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]
///
/// Runs, and propagates, as the ZADD it stands for: the same options,
/// each position as its geohash score.
pub fn geoadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // The options go to ZADD by name: C's strcasecmp took "nx\0..." as
    // NX, and the ZADD must see (and the AOF replay) what GEOADD saw.
    let mut zadd = vec![Bytes::from_static(b"zadd"), args[1].clone()];
    let (mut nx, mut xx) = (false, false);
    let mut at = 2;
    while at < args.len() {
        let a = &args[at];
        if is(a, "nx") {
            nx = true;
            zadd.push(Bytes::from_static(b"nx"));
        } else if is(a, "xx") {
            xx = true;
            zadd.push(Bytes::from_static(b"xx"));
        } else if is(a, "ch") {
            zadd.push(Bytes::from_static(b"ch"));
        } else {
            break;
        }
        at += 1;
    }
    if !(args.len() - at).is_multiple_of(3) || (xx && nx) {
        return Err(CmdError::Syntax);
    }
    zadd.reserve((args.len() - at) / 3 * 2);
    for triple in args[at..].chunks_exact(3) {
        let [lon, lat] = parse_lon_lat(&triple[0], &triple[1])?;
        zadd.push(Bytes::from(geohash::score_of(lon, lat).to_string()));
        zadd.push(triple[2].clone());
    }
    crate::types::zset::zadd(ctx, &zadd)?;
    ctx.propagate_as(zadd);
    Ok(())
}

/// GEOPOS key [member ...]
pub fn geopos(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let z = read_as::<ZSet>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    ctx.out.array(args.len() - 2);
    for member in &args[2..] {
        match z.as_ref().and_then(|z| z.score(member)) {
            Some(score) => {
                let [lon, lat] = geohash::decode_score(score);
                ctx.out.array(2);
                reply_coordinate(ctx.out, lon);
                reply_coordinate(ctx.out, lat);
            }
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

/// GEODIST key member1 member2 [M|KM|FT|MI]
pub fn geodist(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let to_meters = match args.len() {
        4 => 1.0,
        5 => parse_unit(&args[4])?,
        _ => return Err(CmdError::Syntax),
    };
    let Some(z) = read_as::<ZSet>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)? else {
        ctx.out.null();
        return Ok(());
    };
    let (Some(s1), Some(s2)) = (z.score(&args[2]), z.score(&args[3])) else {
        ctx.out.null();
        return Ok(());
    };
    let [lon1, lat1] = geohash::decode_score(s1);
    let [lon2, lat2] = geohash::decode_score(s2);
    reply_distance(
        ctx.out,
        geohash::distance(lon1, lat1, lon2, lat2) / to_meters,
    );
    Ok(())
}

/// GEOHASH key [member ...]
pub fn geohash(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let z = read_as::<ZSet>(ctx.store, ctx.db_index, &args[1], ctx.now_ms)?;
    ctx.out.array(args.len() - 2);
    for member in &args[2..] {
        match z.as_ref().and_then(|z| z.score(member)) {
            Some(score) => ctx.out.bulk(&geohash::standard_geohash(score)),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// GEORADIUS key longitude latitude radius M|KM|FT|MI [WITHCOORD]
/// [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key]
/// [STOREDIST key]
pub fn georadius(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    search_generic(ctx, args, Form::Radius { store: true })
}

/// GEORADIUS_RO key longitude latitude radius M|KM|FT|MI [WITHCOORD]
/// [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]
pub fn georadius_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    search_generic(ctx, args, Form::Radius { store: false })
}

/// GEORADIUSBYMEMBER key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST]
/// [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key] [STOREDIST key]
pub fn georadiusbymember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    search_generic(ctx, args, Form::ByMember { store: true })
}

/// GEORADIUSBYMEMBER_RO key member radius M|KM|FT|MI [WITHCOORD]
/// [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]
pub fn georadiusbymember_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    search_generic(ctx, args, Form::ByMember { store: false })
}

/// GEOSEARCH key FROMMEMBER member|FROMLONLAT longitude latitude
/// BYRADIUS radius unit|BYBOX width height unit [ASC|DESC]
/// [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]
pub fn geosearch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    search_generic(ctx, args, Form::Search)
}

/// GEOSEARCHSTORE destination source FROMMEMBER member|FROMLONLAT
/// longitude latitude BYRADIUS radius unit|BYBOX width height unit
/// [ASC|DESC] [COUNT count [ANY]] [STOREDIST]
pub fn geosearchstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    search_generic(ctx, args, Form::SearchStore)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::Protocol;

    fn written(proto: Protocol, write: impl FnOnce(&mut Reply)) -> Vec<u8> {
        let mut out = Reply::new(proto);
        write(&mut out);
        out.copy_range(0, out.pending())
    }

    #[test]
    fn coordinates_print_as_human_long_doubles() {
        let coord = |d| written(Protocol::Resp2, |o| reply_coordinate(o, d));
        assert_eq!(coord(13.0), b"$2\r\n13\r\n");
        assert_eq!(coord(-0.0), b"$1\r\n0\r\n");
        assert_eq!(coord(0.5), b"$3\r\n0.5\r\n");
        assert_eq!(
            coord(13.361389338970184),
            b"$20\r\n13.36138933897018433\r\n"
        );
        let resp3 = written(Protocol::Resp3, |o| reply_coordinate(o, -179.25));
        assert_eq!(resp3, b",-179.25\r\n");
    }

    #[test]
    fn distances_have_four_decimals_in_both_protocols() {
        for proto in [Protocol::Resp2, Protocol::Resp3] {
            let dist = |d| written(proto, |o| reply_distance(o, d));
            assert_eq!(dist(0.0), b"$6\r\n0.0000\r\n");
            assert_eq!(dist(0.00004), b"$6\r\n0.0000\r\n");
            assert_eq!(dist(0.5), b"$6\r\n0.5000\r\n");
            assert_eq!(dist(166274.15156960033), b"$11\r\n166274.1516\r\n");
        }
    }

    #[test]
    fn bad_pairs_quote_coordinates_as_percent_f() {
        let err = parse_lon_lat(b"200", b"-0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ERR invalid longitude,latitude pair 200.000000,-0.000000"
        );
        let err = parse_lon_lat(b"inf", b"1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ERR invalid longitude,latitude pair inf,1.000000"
        );
        assert_eq!(parse_lon_lat(b"x", b"1").unwrap_err(), CmdError::NotFloat);
        assert_eq!(
            parse_lon_lat(b"180", b"-85.05112878"),
            Ok([180.0, -85.05112878])
        );
    }
}
