//! The geohash arithmetic of Redis's `geohash.c` and `geohash_helper.c`:
//! 52-bit interleaved cells over the Web Mercator latitude range, their
//! neighbours, the nine cells that cover a search, and distances on the
//! sphere. Every floating-point step is done in Redis's order, with the
//! same constants and the same libm calls, so positions, distances and
//! the cells searched are bit-identical to redis-server's.

use std::cmp::Ordering;

/// 26 bits of latitude and 26 of longitude make a 52-bit score, which a
/// double holds exactly.
pub const STEP_MAX: u8 = 26;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;

/// Redis's `D_R`: degrees to radians.
const D_R: f64 = std::f64::consts::PI / 180.0;
/// Earth's quadratic mean radius for WGS-84.
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

/// A cell: `step` bits of each coordinate, interleaved (latitude in the
/// even bits). The zero value (no bits, step 0) marks a cell left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

impl Cell {
    pub fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The scores `[min, max)` of every point inside the cell (Redis's
    /// scoresOfGeoHashBox): the prefix aligned to 52 bits, and the next.
    pub fn score_range(self) -> (f64, f64) {
        let shift = 52 - u32::from(self.step) * 2;
        let min = self.bits << shift;
        let max = self.bits.wrapping_add(1) << shift;
        (min as f64, max as f64)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

impl Range {
    fn is_zero(self) -> bool {
        self.min == 0.0 && self.max == 0.0
    }
}

/// The ranges geo scores are encoded over.
pub const WGS84_LONG: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
pub const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// A cell's bounds in degrees.
#[derive(Debug, Clone, Copy)]
pub struct Area {
    pub lon: Range,
    pub lat: Range,
}

/// Spreads the low 32 bits of `x` over the even bits and those of `y`
/// over the odd bits.
fn interleave64(x: u32, y: u32) -> u64 {
    fn spread(v: u32) -> u64 {
        let mut v = u64::from(v);
        v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
        v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333_3333_3333;
        (v | (v << 1)) & 0x5555_5555_5555_5555
    }
    spread(x) | (spread(y) << 1)
}

/// The inverse of [`interleave64`]: the even bits in the low half, the
/// odd bits in the high half.
fn deinterleave64(interleaved: u64) -> u64 {
    fn gather(v: u64) -> u64 {
        let mut v = v & 0x5555_5555_5555_5555;
        v = (v | (v >> 1)) & 0x3333_3333_3333_3333;
        v = (v | (v >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v >> 4)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v >> 8)) & 0x0000_FFFF_0000_FFFF;
        (v | (v >> 16)) & 0x0000_0000_FFFF_FFFF
    }
    gather(interleaved) | (gather(interleaved >> 1) << 32)
}

/// The cell of `step` bits holding (`lon`, `lat`) over the given ranges,
/// or `None` outside them (geohashEncode).
pub fn encode(lon_range: Range, lat_range: Range, lon: f64, lat: f64, step: u8) -> Option<Cell> {
    if step > 32 || step == 0 || lat_range.is_zero() || lon_range.is_zero() {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_range.min || lat > lat_range.max || lon < lon_range.min || lon > lon_range.max {
        return None;
    }
    let mut lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min);
    let mut lon_offset = (lon - lon_range.min) / (lon_range.max - lon_range.min);
    lat_offset *= (1u64 << step) as f64;
    lon_offset *= (1u64 << step) as f64;
    Some(Cell {
        bits: interleave64(lat_offset as u32, lon_offset as u32),
        step,
    })
}

/// The cell of a point over the geo ranges at full precision.
pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<Cell> {
    encode(WGS84_LONG, WGS84_LAT, lon, lat, step)
}

/// The bounds of `cell` (geohashDecode).
pub fn decode(lon_range: Range, lat_range: Range, cell: Cell) -> Option<Area> {
    if cell.is_zero() || lat_range.is_zero() || lon_range.is_zero() {
        return None;
    }
    let sep = deinterleave64(cell.bits);
    let lat_scale = lat_range.max - lat_range.min;
    let lon_scale = lon_range.max - lon_range.min;
    let ilato = sep as u32;
    let ilono = (sep >> 32) as u32;
    // C divides by `1ull << step`; a step past 63 never reaches here
    // from a score, but the shift must not panic.
    let cells = (1u64.checked_shl(u32::from(cell.step)).unwrap_or(0)) as f64;
    // `ilato + 1` is C's unsigned int arithmetic, which wraps.
    Some(Area {
        lat: Range {
            min: lat_range.min + (f64::from(ilato) * 1.0 / cells) * lat_scale,
            max: lat_range.min + (f64::from(ilato.wrapping_add(1)) * 1.0 / cells) * lat_scale,
        },
        lon: Range {
            min: lon_range.min + (f64::from(ilono) * 1.0 / cells) * lon_scale,
            max: lon_range.min + (f64::from(ilono.wrapping_add(1)) * 1.0 / cells) * lon_scale,
        },
    })
}

/// C's `(uint64_t)d` as gcc compiles it for x86-64, which redis-server
/// applies to any score it decodes: truncation below 2^63, the upper half
/// through a subtraction, and the "integer indefinite" for what is out of
/// range (so a negative score wraps, and 1e30 or inf becomes 0).
pub fn c_double_to_u64(d: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    fn cvttsd2si(d: f64) -> i64 {
        if (-TWO_63..TWO_63).contains(&d) {
            d as i64
        } else {
            i64::MIN
        }
    }
    if d >= TWO_63 {
        (cvttsd2si(d - TWO_63) as u64) ^ (1 << 63)
    } else {
        cvttsd2si(d) as u64
    }
}

/// C's `(long long)d` on x86-64: truncation, or i64::MIN out of range.
pub fn c_double_to_i64(d: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if (-TWO_63..TWO_63).contains(&d) {
        d as i64
    } else {
        i64::MIN
    }
}

/// The position a sorted-set score stands for: the centre of its cell,
/// clamped to the geo ranges (Redis's decodeGeohash). Any score decodes.
pub fn decode_score(score: f64) -> [f64; 2] {
    let cell = Cell {
        bits: c_double_to_u64(score),
        step: STEP_MAX,
    };
    match decode(WGS84_LONG, WGS84_LAT, cell) {
        Some(area) => {
            let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
            let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
            [lon, lat]
        }
        None => [0.0, 0.0],
    }
}

/// The score GEOADD stores for a valid position.
pub fn score_of(lon: f64, lat: f64) -> u64 {
    encode_wgs84(lon, lat, STEP_MAX).map_or(0, |c| c.bits << (52 - 2 * STEP_MAX))
}

/// GEOHASH's 11 characters: the position decoded, encoded again over
/// the standard latitude range (-90, 90) as other geohash tools use it,
/// in base 32, the last character always '0'.
pub fn standard_geohash(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let [lon, lat] = decode_score(score);
    let standard_lat = Range {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode(WGS84_LONG, standard_lat, lon, lat, 26).map_or(0, |c| c.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// The distance between two latitudes on one meridian.
pub fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// The haversine great-circle distance in meters.
pub fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    let lon1r = deg_rad(lon1d);
    let lon2r = deg_rad(lon2d);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1d, lat2d);
    }
    let lat1r = deg_rad(lat1d);
    let lat2r = deg_rad(lat2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// What a search covers, in the unit the client gave.
#[derive(Debug, Clone, Copy)]
pub enum Extent {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// A search: centre (longitude, latitude), extent, and the unit's size
/// in meters.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub xy: [f64; 2],
    pub extent: Extent,
    pub to_meters: f64,
}

impl Shape {
    /// The position of `score` and its distance in meters from the
    /// centre, if it lies inside (Redis's geoWithinShape).
    pub fn contains(&self, score: f64) -> Option<([f64; 2], f64)> {
        let xy = decode_score(score);
        let [x1, y1] = self.xy;
        let [x2, y2] = xy;
        match self.extent {
            Extent::Radius(r) => {
                // Not `<=`: a NaN distance (rounding past the antipode)
                // is inside for Redis, which tests `d > radius`.
                let d = distance(x1, y1, x2, y2);
                let outside = d.partial_cmp(&(r * self.to_meters)) == Some(Ordering::Greater);
                (!outside).then_some((xy, d))
            }
            Extent::Box { width, height } => {
                let (width_m, height_m) = (width * self.to_meters, height * self.to_meters);
                if lat_distance(y2, y1) > height_m / 2.0 {
                    return None;
                }
                if distance(x2, y2, x1, y2) > width_m / 2.0 {
                    return None;
                }
                Some((xy, distance(x1, y1, x2, y2)))
            }
        }
    }

    /// The box around the shape: min lon, min lat, max lon, max lat
    /// (geohashBoundingBox; the top edge is narrower in the north).
    fn bounding_box(&self) -> [f64; 4] {
        let [longitude, latitude] = self.xy;
        let (height, width) = match self.extent {
            Extent::Radius(r) => (self.to_meters * r, self.to_meters * r),
            Extent::Box { width, height } => (
                self.to_meters * (height / 2.0),
                self.to_meters * (width / 2.0),
            ),
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude - lat_delta).cos());
        let delta = if latitude < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [
            longitude - delta,
            latitude - lat_delta,
            longitude + delta,
            latitude + lat_delta,
        ]
    }

    /// The meters from the centre the search reaches: the radius, or half
    /// the box's diagonal.
    fn reach_meters(&self) -> f64 {
        let r = match self.extent {
            Extent::Radius(r) => r,
            Extent::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        };
        r * self.to_meters
    }

    /// The cells to scan, in Redis's order: the centre's, then north,
    /// south, east, west, north-east, north-west, south-east, south-west;
    /// those the search cannot reach are zero
    /// (geohashCalculateAreasByShapeWGS84 and membersOfAllNeighbors).
    pub fn cells(&self) -> [Cell; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let [longitude, latitude] = self.xy;
        let mut steps = estimate_steps(self.reach_meters(), latitude);
        let at = |steps: u8| {
            let cell = encode_wgs84(longitude, latitude, steps).unwrap_or(Cell {
                bits: 0,
                step: steps,
            });
            let area = decode(WGS84_LONG, WGS84_LAT, cell);
            (cell, Neighbours::of(cell), area)
        };
        let (mut cell, mut n, mut area) = at(steps);
        // Near a cell's edge the estimated step can be too fine for the
        // neighbours to cover the box: one step coarser then.
        let decode_side = |c: Cell| decode(WGS84_LONG, WGS84_LAT, c);
        let too_small = decode_side(n.north).is_some_and(|a| a.lat.max < max_lat)
            || decode_side(n.south).is_some_and(|a| a.lat.min > min_lat)
            || decode_side(n.east).is_some_and(|a| a.lon.max < max_lon)
            || decode_side(n.west).is_some_and(|a| a.lon.min > min_lon);
        if steps > 1 && too_small {
            steps -= 1;
            (cell, n, area) = at(steps);
        }
        if steps >= 2
            && let Some(area) = area
        {
            let zero = Cell::default();
            if area.lat.min < min_lat {
                (n.south, n.south_west, n.south_east) = (zero, zero, zero);
            }
            if area.lat.max > max_lat {
                (n.north, n.north_east, n.north_west) = (zero, zero, zero);
            }
            if area.lon.min < min_lon {
                (n.west, n.south_west, n.north_west) = (zero, zero, zero);
            }
            if area.lon.max > max_lon {
                (n.east, n.south_east, n.north_east) = (zero, zero, zero);
            }
        }
        [
            cell,
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

/// The cell precision for a search reaching `range_meters` around
/// latitude `lat` (geohashEstimateStepsByRadius).
fn estimate_steps(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// The eight cells around one, wrapping around at the edges.
#[derive(Debug, Clone, Copy)]
struct Neighbours {
    north: Cell,
    south: Cell,
    east: Cell,
    west: Cell,
    north_east: Cell,
    north_west: Cell,
    south_east: Cell,
    south_west: Cell,
}

impl Neighbours {
    fn of(c: Cell) -> Neighbours {
        Neighbours {
            east: move_x(c, 1),
            west: move_x(c, -1),
            south: move_y(c, -1),
            north: move_y(c, 1),
            north_west: move_y(move_x(c, -1), 1),
            north_east: move_y(move_x(c, 1), 1),
            south_east: move_y(move_x(c, 1), -1),
            south_west: move_y(move_x(c, -1), -1),
        }
    }
}

/// Moves one cell along the odd (longitude) bits.
fn move_x(mut c: Cell, d: i8) -> Cell {
    const ODD: u64 = 0xaaaa_aaaa_aaaa_aaaa;
    const EVEN: u64 = 0x5555_5555_5555_5555;
    let shift = 64 - u32::from(c.step) * 2;
    let mut x = c.bits & ODD;
    let y = c.bits & EVEN;
    let zz = EVEN.checked_shr(shift).unwrap_or(0);
    if d > 0 {
        x = x.wrapping_add(zz.wrapping_add(1));
    } else {
        x |= zz;
        x = x.wrapping_sub(zz.wrapping_add(1));
    }
    x &= ODD.checked_shr(shift).unwrap_or(0);
    c.bits = x | y;
    c
}

/// Moves one cell along the even (latitude) bits.
fn move_y(mut c: Cell, d: i8) -> Cell {
    const ODD: u64 = 0xaaaa_aaaa_aaaa_aaaa;
    const EVEN: u64 = 0x5555_5555_5555_5555;
    let shift = 64 - u32::from(c.step) * 2;
    let x = c.bits & ODD;
    let mut y = c.bits & EVEN;
    let zz = ODD.checked_shr(shift).unwrap_or(0);
    if d > 0 {
        y = y.wrapping_add(zz.wrapping_add(1));
    } else {
        y |= zz;
        y = y.wrapping_sub(zz.wrapping_add(1));
    }
    y &= EVEN.checked_shr(shift).unwrap_or(0);
    c.bits = x | y;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (x, y) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0xdead_beef, 0x1234_5678),
            (u32::MAX, 7),
        ] {
            let i = interleave64(x, y);
            let sep = deinterleave64(i);
            assert_eq!((sep as u32, (sep >> 32) as u32), (x, y));
        }
    }

    #[test]
    fn scores_decode_as_redis_does() {
        // GEOADD Sicily 13.361389 38.115556 Palermo stores 3479099956230698.
        assert_eq!(score_of(13.361389, 38.115556), 3479099956230698);
        let [lon, lat] = decode_score(3479099956230698.0);
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert_eq!(&standard_geohash(3479099956230698.0), b"sqc8b49rny0");
    }

    #[test]
    fn out_of_range_scores_convert_as_x86_does() {
        assert_eq!(c_double_to_u64(1e30), 0);
        assert_eq!(c_double_to_u64(f64::INFINITY), 0);
        assert_eq!(c_double_to_u64(-5.0), (-5i64) as u64);
        assert_eq!(c_double_to_u64(-1e30), 1 << 63);
        assert_eq!(c_double_to_u64(1.5e19), 15_000_000_000_000_000_000);
        assert_eq!(c_double_to_i64(1e19), i64::MIN);
        assert_eq!(c_double_to_i64(-7.9), -7);
    }

    #[test]
    fn palermo_to_catania() {
        let d = distance(
            13.361389338970184,
            38.1155563954963,
            15.087267458438873,
            37.50266842333162,
        );
        assert!((d - 166274.1516).abs() < 0.001, "{d}");
    }

    #[test]
    fn neighbours_wrap_around() {
        let c = Cell { bits: 0, step: 1 };
        assert_eq!(move_x(c, -1).bits, 0b10);
        assert_eq!(move_y(c, -1).bits, 0b01);
        assert_eq!(move_x(move_x(c, 1), 1), c);
    }

    #[test]
    fn steps_by_radius() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(f64::INFINITY, 0.0), 1);
        assert_eq!(estimate_steps(1000.0, 0.0), 14);
        assert_eq!(estimate_steps(1000.0, 70.0), 13);
        assert_eq!(estimate_steps(1000.0, -85.0), 12);
    }
}
