//! LOLWUT, as Redis 7.0 answers it (`lolwut.c`, `lolwut5.c`, `lolwut6.c`).
//!
//! Redis 7.0 has no art of its own: its LOLWUT prints `Redis ver. 7.0.15`.
//! `LOLWUT VERSION 5` draws Georg Nees's "Schotter" in Braille characters
//! and `VERSION 6` a city skyline in terminal colours, both as Redis does,
//! pixel for pixel: the same `float` and `double` arithmetic in the same
//! order, and the same random numbers, glibc's `rand()` (see [`GlibcRand`]),
//! seeded from the clock and the process id as Redis seeds it at start-up.
//! Only the seed differs: Redis's generator is shared with the rest of the
//! server, so its sequence is not reproducible from outside either.

use std::f64::consts::PI;

use bytes::Bytes;

use super::{CmdError, CmdResult, Ctx, arg_i64};
use crate::util::eq_ic;

/// LOLWUT [VERSION version] [version-specific arguments ...]
pub fn lolwut(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut args = &args[1..];
    // Redis formats the version as "%u.0.0" of a C `unsigned int` and
    // then looks at its first characters: only 5 and 6 draw.
    let mut version = None;
    if args.len() >= 2 && eq_ic(&args[0], "VERSION") {
        version = Some(arg_i64(&args[1])? as u32);
        args = &args[2..];
    }
    let text = match version {
        Some(5) => schotter(args, ctx.now_ms)?,
        Some(6) => skyline(args, ctx.now_ms)?,
        _ => format!("Redis ver. {}\n", crate::REDIS_VERSION).into_bytes(),
    };
    ctx.out.verbatim("txt", &text);
    Ok(())
}

/// The `i`th of the version-specific arguments as a C `long`, or its
/// default.
fn long_arg(args: &[Bytes], i: usize, default: i64) -> Result<i64, CmdError> {
    args.get(i).map_or(Ok(default), |a| arg_i64(a))
}

/// The most pixels a canvas may have. Redis has no such bound: its limits
/// on the arguments still allow a Schotter canvas of 800 million pixels
/// (1000 columns, one square per row, 200 per column), which takes it
/// many seconds and gigabytes; ferrokv refuses what would stall the loop.
/// Every canvas of the default sizes, and of any VERSION 6 size, fits.
const MAX_CANVAS_PIXELS: usize = 16 << 20;

/// glibc's `rand()`: the additive feedback generator of `random_r.c`
/// (TYPE_3: 31 words of state, separation 3), seeded as `srand` seeds it.
pub struct GlibcRand {
    state: [i32; 31],
    front: usize,
    rear: usize,
}

/// The square root of two as lolwut.c writes it: its last digits are not
/// `SQRT_2`'s, and the squares' corners depend on them.
#[allow(clippy::approx_constant)]
const REDIS_SQRT_2: f64 = 1.4142135623;

/// glibc's RAND_MAX.
const RAND_MAX: i32 = 2147483647;

impl GlibcRand {
    pub fn new(seed: u32) -> GlibcRand {
        let seed = if seed == 0 { 1 } else { seed };
        let mut state = [0i32; 31];
        let mut word = seed as i32;
        state[0] = word;
        for slot in state.iter_mut().skip(1) {
            // state[i] = (16807 * state[i - 1]) % 2147483647, computed as
            // glibc does so that it never overflows 31 bits.
            let hi = i64::from(word) / 127773;
            let lo = i64::from(word) % 127773;
            word = (16807 * lo - 2836 * hi) as i32;
            if word < 0 {
                word = word.wrapping_add(2147483647);
            }
            *slot = word;
        }
        let mut rand = GlibcRand {
            state,
            front: 3,
            rear: 0,
        };
        for _ in 0..310 {
            rand.rand();
        }
        rand
    }

    /// The next number, in 0..=RAND_MAX.
    pub fn rand(&mut self) -> i32 {
        let sum = (self.state[self.front] as u32).wrapping_add(self.state[self.rear] as u32);
        self.state[self.front] = sum as i32;
        self.front = (self.front + 1) % 31;
        self.rear = (self.rear + 1) % 31;
        (sum >> 1) as i32
    }
}

/// A seed as Redis's `srand(time(NULL)^getpid()^tv.tv_usec)`.
fn seed(now_ms: u64) -> u32 {
    let usec = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_micros());
    ((now_ms / 1000) as u32) ^ std::process::id() ^ usec
}

/// Redis's lwCanvas: one byte per pixel, 0 the background.
struct Canvas {
    width: i32,
    height: i32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i32, height: i32, color: u8) -> Canvas {
        let pixels = vec![color; width.max(0) as usize * height.max(0) as usize];
        Canvas {
            width,
            height,
            pixels,
        }
    }

    fn index(&self, x: i32, y: i32) -> Option<usize> {
        let inside = x >= 0 && x < self.width && y >= 0 && y < self.height;
        inside.then(|| x as usize + y as usize * self.width as usize)
    }

    /// Drawing outside the canvas does nothing, as in Redis.
    fn set(&mut self, x: i32, y: i32, color: u8) {
        if let Some(i) = self.index(x, y) {
            self.pixels[i] = color;
        }
    }

    fn get(&self, x: i32, y: i32) -> u8 {
        self.index(x, y).map_or(0, |i| self.pixels[i])
    }

    /// Bresenham's line, as lwDrawLine.
    fn line(&mut self, mut x1: i32, mut y1: i32, x2: i32, y2: i32, color: u8) {
        let dx = (x2 - x1).abs();
        let dy = (y2 - y1).abs();
        let sx = if x1 < x2 { 1 } else { -1 };
        let sy = if y1 < y2 { 1 } else { -1 };
        let mut err = dx - dy;
        loop {
            self.set(x1, y1, color);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// lwDrawSquare: a square centered on (x, y), rotated by `angle`, its
    /// corners on a circle. C's `float`s are `f32` here, widened to
    /// `f64` wherever C mixes them with a `double`.
    fn square(&mut self, x: i32, y: i32, size: f32, angle: f32, color: u8) {
        let size = (f64::from(size) / REDIS_SQRT_2) as f32;
        let size = f64::from(size).round() as f32;
        let mut k = (PI / 4.0 + f64::from(angle)) as f32;
        let mut px = [0i32; 4];
        let mut py = [0i32; 4];
        for j in 0..4 {
            px[j] = (f64::from(k).sin() * f64::from(size) + f64::from(x)).round() as i32;
            py[j] = (f64::from(k).cos() * f64::from(size) + f64::from(y)).round() as i32;
            k = (f64::from(k) + PI / 2.0) as f32;
        }
        for j in 0..4 {
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color);
        }
    }
}

/// LOLWUT VERSION 5 [columns] [squares-per-row] [squares-per-col]
fn schotter(args: &[Bytes], now_ms: u64) -> Result<Vec<u8>, CmdError> {
    let cols = long_arg(args, 0, 66)?.clamp(1, 1000) as i32;
    let per_row = long_arg(args, 1, 8)?.clamp(1, 200) as i32;
    let per_col = long_arg(args, 2, 12)?.clamp(1, 200) as i32;
    let canvas = schotter_canvas(cols, per_row, per_col, &mut GlibcRand::new(seed(now_ms)))?;
    let mut text = braille(&canvas);
    text.extend_from_slice(b"\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ");
    text.extend_from_slice(crate::REDIS_VERSION.as_bytes());
    text.push(b'\n');
    Ok(text)
}

/// lwDrawSchotter: rows of squares, turned and moved more at random the
/// lower they are, on a canvas `cols` characters (two pixels each) wide.
fn schotter_canvas(
    cols: i32,
    per_row: i32,
    per_col: i32,
    rand: &mut GlibcRand,
) -> Result<Canvas, CmdError> {
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32 + (padding * 2) as f32) as i32;
    if width as usize * height.max(0) as usize > MAX_CANVAS_PIXELS {
        return Err(CmdError::err("LOLWUT canvas too large"));
    }
    let mut canvas = Canvas::new(width, height, 0);
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut angle = 0.0f32;
            if y > 1 {
                let mut r = [0.0f32; 3];
                for v in &mut r {
                    *v = rand.rand() as f32 / RAND_MAX as f32 / per_col as f32 * y as f32;
                }
                for v in &mut r {
                    if rand.rand() % 2 != 0 {
                        *v = -*v;
                    }
                }
                angle = r[0];
                sx = (sx as f32 + r[1] * side / 3.0) as i32;
                sy = (sy as f32 + r[2] * side / 3.0) as i32;
            }
            canvas.square(sx, sy, side, angle, 1);
        }
    }
    Ok(canvas)
}

/// The canvas in Braille characters, each 2x4 pixels; lines end with a
/// newline except one whose top row is the canvas's last, as in Redis.
fn braille(canvas: &Canvas) -> Vec<u8> {
    /// Pixel (dx, dy) of a character's cell to its dot's bit.
    const DOTS: [(i32, i32, u32); 8] = [
        (0, 0, 0),
        (0, 1, 1),
        (0, 2, 2),
        (1, 0, 3),
        (1, 1, 4),
        (1, 2, 5),
        (0, 3, 6),
        (1, 3, 7),
    ];
    let mut text = Vec::new();
    for y in (0..canvas.height).step_by(4) {
        for x in (0..canvas.width).step_by(2) {
            let dots = DOTS
                .iter()
                .filter(|&&(dx, dy, _)| canvas.get(x + dx, y + dy) != 0)
                .fold(0u32, |byte, &(_, _, bit)| byte | 1 << bit);
            let code = 0x2800 + dots;
            text.extend_from_slice(&[
                0xE0 | (code >> 12) as u8,
                0x80 | ((code >> 6) & 0x3F) as u8,
                0x80 | (code & 0x3F) as u8,
            ]);
        }
        if y != canvas.height - 1 {
            text.push(b'\n');
        }
    }
    text
}

/// One building of the skyline.
struct Skyscraper {
    xoff: i32,
    width: i32,
    height: i32,
    windows: bool,
    color: u8,
}

/// generateSkyscraper: a building standing on the canvas's bottom row,
/// its roof two pixels narrower on each side, windows (two pixels wide,
/// one tall) in a random gray.
fn skyscraper(canvas: &mut Canvas, s: &Skyscraper, rand: &mut GlibcRand) {
    let start_y = canvas.height - 1;
    let end_y = start_y - s.height + 1;
    for y in (end_y..=start_y).rev() {
        for x in s.xoff..s.xoff + s.width {
            if y == end_y && (x <= s.xoff + 1 || x >= s.xoff + s.width - 2) {
                continue;
            }
            let mut color = s.color;
            let inner =
                x > s.xoff + 1 && x < s.xoff + s.width - 2 && y > end_y + 1 && y < start_y - 1;
            if s.windows && inner {
                let rel_x = x - (s.xoff + 1);
                let rel_y = y - (end_y + 1);
                if (rel_x / 2) % 2 != 0 && rel_y % 2 != 0 {
                    loop {
                        color = 1 + (rand.rand() % 2) as u8;
                        if color != s.color {
                            break;
                        }
                    }
                    // Both pixels of a window get the same gray.
                    if rel_x % 2 != 0 {
                        color = canvas.get(x - 1, y);
                    }
                }
            }
            canvas.set(x, y, color);
        }
    }
}

/// generateSkyline: two rows of background buildings in the two grays
/// (the lighter behind), then the black foreground ones with windows.
fn skyline_canvas(cols: i32, rows: i32, rand: &mut GlibcRand) -> Canvas {
    let mut canvas = Canvas::new(cols, rows, 3);
    let h = canvas.height;
    for color in [2u8, 1] {
        let mut offset = -10;
        while offset < canvas.width {
            offset += rand.rand() % 8;
            let width = 10 + rand.rand() % 9;
            let height = match color {
                2 => h / 2 + (rand.rand() % h) / 2,
                _ => h / 2 + (rand.rand() % h) / 3,
            };
            let s = Skyscraper {
                xoff: offset,
                width,
                height,
                windows: false,
                color,
            };
            skyscraper(&mut canvas, &s, rand);
            offset += if color == 2 { width / 2 } else { width + 1 };
        }
    }
    let mut offset = -10;
    while offset < canvas.width {
        offset += rand.rand() % 8;
        let mut width = 5 + rand.rand() % 14;
        if width % 4 != 0 {
            width += width % 3;
        }
        let height = h / 3 + (rand.rand() % h) / 2;
        let s = Skyscraper {
            xoff: offset,
            width,
            height,
            windows: true,
            color: 0,
        };
        skyscraper(&mut canvas, &s, rand);
        offset += width + 5;
    }
    canvas
}

/// LOLWUT VERSION 6 [columns] [rows]
fn skyline(args: &[Bytes], now_ms: u64) -> Result<Vec<u8>, CmdError> {
    let cols = long_arg(args, 0, 80)?.clamp(1, 1000) as i32;
    let rows = long_arg(args, 1, 20)?.clamp(1, 1000) as i32;
    let canvas = skyline_canvas(cols, rows, &mut GlibcRand::new(seed(now_ms)));
    let mut text = colors(&canvas);
    text.extend_from_slice(b"\nDedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori. Redis ver. ");
    text.extend_from_slice(crate::REDIS_VERSION.as_bytes());
    text.push(b'\n');
    Ok(text)
}

/// The canvas as a space per pixel in the terminal's four grays,
/// foreground and background both, so that terminals agree.
fn colors(canvas: &Canvas) -> Vec<u8> {
    let mut text = Vec::new();
    for y in 0..canvas.height {
        for x in 0..canvas.width {
            let escape: &[u8] = match canvas.get(x, y) {
                1 => b"0;90;100m",
                2 => b"0;37;47m",
                3 => b"0;97;107m",
                _ => b"0;30;40m",
            };
            text.extend_from_slice(b"\x1b[");
            text.extend_from_slice(escape);
            text.extend_from_slice(b" \x1b[0m");
        }
        if y != canvas.height - 1 {
            text.push(b'\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator is glibc's: the same seeds give the same numbers as
    /// the C library's own `srand` and `rand`.
    #[test]
    fn rand_matches_glibc() {
        for seed in [0u32, 1, 42, 0x8000_0000, 0xFFFF_FFFF, 1_733_000_000 ^ 4242] {
            let mut ours = GlibcRand::new(seed);
            // SAFETY: srand and rand take and return plain integers; no
            // other test of this crate uses the C generator.
            unsafe { libc::srand(seed) };
            for _ in 0..1000 {
                // SAFETY: as above.
                assert_eq!(ours.rand(), unsafe { libc::rand() }, "seed {seed}");
            }
        }
    }

    /// Rows 0 and 1 of Schotter are never moved, so two rows draw the same
    /// whatever the seed (tests/diff/ops.redis compares them with Redis).
    #[test]
    fn schotter_top_rows_are_fixed() {
        let a = schotter(&[Bytes::from("10"), Bytes::from("2"), Bytes::from("2")], 1).unwrap();
        let b = schotter(&[Bytes::from("10"), Bytes::from("2"), Bytes::from("2")], 99).unwrap();
        assert_eq!(a, b);
        assert!(String::from_utf8(a).unwrap().starts_with("⠀⡤⠤⠤⠤⡤⠤⠤⠤⡄\n"));
    }

    #[test]
    fn skyline_fills_the_canvas() {
        let canvas = skyline_canvas(80, 20, &mut GlibcRand::new(7));
        assert_eq!(canvas.pixels.len(), 80 * 20);
        // The foreground's black reaches the bottom row somewhere.
        assert!((0..80).any(|x| canvas.get(x, 19) == 0));
    }

    /// The drawings of Redis's own code (lolwut5.c and lolwut6.c built
    /// with `srand(seed)` in place of Redis's seeding) for a few seeds,
    /// by SHA-1: the same random numbers give the same pixels.
    #[test]
    fn random_drawings_match_redis() {
        let hex = |text: &[u8]| String::from_utf8(crate::script::sha1::hex(text).to_vec());
        let schotter = |seed, cols, row, col| {
            let canvas = schotter_canvas(cols, row, col, &mut GlibcRand::new(seed));
            hex(&braille(&canvas.expect("a canvas of this size")))
        };
        let skyline = |seed, cols, rows| {
            hex(&colors(&skyline_canvas(
                cols,
                rows,
                &mut GlibcRand::new(seed),
            )))
        };
        let cases = [
            (
                schotter(1234, 20, 4, 6),
                "e8600b687d62f21119d4d244b8f42d3c1d3742df",
            ),
            (
                schotter(99, 66, 8, 12),
                "e752b19d95626cf8e83bf5c7eab7817269ee25ef",
            ),
            (
                skyline(7, 80, 20),
                "c000717790ec65ad91462b094e2dd7a9f9972000",
            ),
            (
                skyline(424242, 33, 17),
                "69dfb9c10fb86f96d795700d28221ec75179e832",
            ),
        ];
        for (ours, redis) in cases {
            assert_eq!(ours.as_deref(), Ok(redis));
        }
    }
}
