//! The fuzzing engine, shared by every target.
//!
//! A [`Target`] is anything that takes bytes: it names itself, gives seed
//! inputs, may generate structured inputs of its own, and checks one input.
//! [`fuzz`] runs every seed, then inputs made from the seeds: generated ones,
//! mutated ones and splices of two. Everything follows from one seed, so a
//! run is reproducible; on the first failure the input is shrunk and a
//! report is returned with the seed, the iteration and the input.
//!
//! There is no coverage feedback on stable Rust, so the pool of inputs to
//! mutate is the seeds plus a sample of earlier inputs: that lets mutations
//! pile up over iterations instead of always starting from a seed.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::time::{Duration, Instant};

use ferrokv::util::Rng;

/// Why an input failed. The shrinker keeps a smaller input only if it fails
/// with the same `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The class of failure, such as [`PANIC`].
    pub kind: &'static str,
    /// What happened with this input.
    pub detail: String,
}

/// The failure kind of a check that panicked.
pub const PANIC: &str = "panic";

/// Something that takes bytes and must behave on all of them.
pub trait Target {
    /// A short name for reports.
    fn name(&self) -> &'static str;

    /// Inputs to start from: valid ones of every shape, and known edge cases.
    fn seeds(&self) -> Vec<Vec<u8>>;

    /// Byte strings that mean something in the format, which mutations
    /// insert whole (like an AFL dictionary).
    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[]
    }

    /// A fresh input built from the format's grammar, or `None` if the
    /// target has no generator (the engine then only mutates).
    fn generate(&self, _rng: &mut Rng) -> Option<Vec<u8>> {
        None
    }

    /// Runs one input. `variant` decides whatever else the check chooses at
    /// random (how the input is cut into reads, a limit), so that the same
    /// input and variant always run the same way, which shrinking relies on.
    /// A panic need not be caught here: the engine catches it.
    fn check(&self, input: &[u8], variant: u64) -> Result<(), Failure>;
}

/// How long [`fuzz`] runs.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    /// This many inputs, seeds included: the same work on every machine.
    Inputs(u64),
    /// Until this much time has passed.
    Time(Duration),
}

/// What a run that found nothing did.
#[derive(Debug)]
pub struct Summary {
    pub inputs: u64,
    pub elapsed: Duration,
}

impl Summary {
    pub fn inputs_per_second(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Each seed runs under this many variants before fuzzing starts.
const VARIANTS_PER_SEED: usize = 4;
/// Generated or mutated inputs are cut to this length; only seeds are
/// longer.
const MAX_INPUT_BYTES: usize = 160 * 1024;
/// How many earlier inputs the pool keeps besides the seeds.
const POOL_SAMPLES: usize = 512;
/// Earlier inputs longer than this are not kept, so that mutation stays
/// cheap and the pool is not dominated by a few long inputs.
const POOL_SAMPLE_MAX_BYTES: usize = 8 * 1024;
/// The most checks one shrink runs. Shrinking ends in seconds even for a
/// 100 KiB input, whose check takes milliseconds; it is a count, not a
/// time, so that the shrunk input is the same on every machine.
const SHRINK_MAX_CHECKS: usize = 3_000;

/// Fuzzes `target` from `seed` within `budget`. On a failure, returns a
/// report with the shrunk input.
pub fn fuzz(target: &dyn Target, seed: u64, budget: Budget) -> Result<Summary, String> {
    let started = Instant::now();
    let mut rng = Rng::new(spread(seed));
    let mut pool = Pool::new(target.seeds());
    let mut inputs = 0;
    for index in 0..pool.seeds {
        for _ in 0..VARIANTS_PER_SEED {
            let variant = rng.next_u64();
            let input = &pool.inputs[index];
            if let Err(failure) = run_one(target, input, variant) {
                let origin = format!("seed #{index}");
                return Err(report(target, seed, &origin, input, variant, failure));
            }
            inputs += 1;
        }
    }
    let mut iteration = 0u64;
    while within(budget, inputs, started) {
        let variant = rng.next_u64();
        let input = next_input(target, &mut rng, &pool);
        if let Err(failure) = run_one(target, &input, variant) {
            let origin = format!("iteration {iteration}");
            return Err(report(target, seed, &origin, &input, variant, failure));
        }
        pool.offer(input, &mut rng);
        iteration += 1;
        inputs += 1;
    }
    Ok(Summary {
        inputs,
        elapsed: started.elapsed(),
    })
}

/// `Rng::new` sets the lowest bit of its seed, so seeds 2 and 3 would run
/// alike. The splitmix64 finalizer, a bijection, first spreads every bit of
/// the seed over all of them.
fn spread(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn within(budget: Budget, inputs: u64, started: Instant) -> bool {
    match budget {
        Budget::Inputs(limit) => inputs < limit,
        Budget::Time(limit) => started.elapsed() < limit,
    }
}

/// Runs one input, turning a panic into a [`PANIC`] failure.
pub fn run_one(target: &dyn Target, input: &[u8], variant: u64) -> Result<(), Failure> {
    install_quiet_panic_hook();
    QUIET_PANICS.with(|quiet| quiet.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| target.check(input, variant)));
    QUIET_PANICS.with(|quiet| quiet.set(false));
    result.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string payload".to_string());
        let location = PANIC_LOCATION.with(|l| l.borrow_mut().take());
        let location = location.unwrap_or_else(|| "an unknown location".to_string());
        Err(Failure {
            kind: PANIC,
            detail: format!("panicked at {location}: {message}"),
        })
    })
}

thread_local! {
    /// Set while this thread runs a check: its panics are expected, and
    /// printing each one (shrinking may cause thousands) would bury the
    /// report.
    static QUIET_PANICS: Cell<bool> = const { Cell::new(false) };
    /// Where the last quiet panic happened, for the report.
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per process, a panic hook that records quiet panics and
/// passes every other panic to the hook it replaces, so the other tests of
/// the crate report theirs as usual.
fn install_quiet_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET_PANICS.with(Cell::get) {
                let location = info.location().map(|l| l.to_string());
                PANIC_LOCATION.with(|l| *l.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

fn report(
    target: &dyn Target,
    seed: u64,
    origin: &str,
    input: &[u8],
    variant: u64,
    failure: Failure,
) -> String {
    let shrunk = shrink(target, input, variant, failure.kind);
    // The detail of the shrunk input is the one that matches what is shown.
    let failure = run_one(target, &shrunk, variant).err().unwrap_or(failure);
    format!(
        "fuzz target `{}` failed: {}\n\
         {}\n\
         found at {origin} from seed {seed:#x} (FERROKV_FUZZ_SEED={seed}), variant {variant:#x}\n\
         input, shrunk from {} to {} bytes:\n\
         b\"{}\"",
        target.name(),
        failure.kind,
        failure.detail,
        input.len(),
        shrunk.len(),
        shrunk.escape_ascii(),
    )
}

/// Shrinks a failing input: deletes ranges, halving their length down to
/// single bytes, as long as what remains still fails with `kind` under the
/// same variant.
///
/// The ranges overlap (each starts a quarter of its length after the
/// previous one): a request that must go whole, such as `$3\r\nSET\r\n`,
/// rarely lines up with ranges placed end to end.
pub fn shrink(target: &dyn Target, input: &[u8], variant: u64, kind: &str) -> Vec<u8> {
    let mut best = input.to_vec();
    let mut checks = 0;
    let mut range_len = best.len().div_ceil(2).max(1);
    while checks < SHRINK_MAX_CHECKS && !best.is_empty() {
        let mut shrank = false;
        let mut start = 0;
        while start < best.len() && checks < SHRINK_MAX_CHECKS {
            let end = (start + range_len).min(best.len());
            let mut candidate = Vec::with_capacity(best.len() - (end - start));
            candidate.extend_from_slice(&best[..start]);
            candidate.extend_from_slice(&best[end..]);
            checks += 1;
            if matches!(run_one(target, &candidate, variant), Err(f) if f.kind == kind) {
                best = candidate;
                shrank = true;
            } else {
                start += (range_len / 4).max(1);
            }
        }
        // A pass that deleted something may have enabled more deletions at
        // the same length; otherwise try shorter ranges.
        if !shrank {
            if range_len == 1 {
                break;
            }
            range_len /= 2;
        }
    }
    best
}

/// The inputs mutations start from: the seeds, then a sample of earlier
/// inputs.
struct Pool {
    inputs: Vec<Vec<u8>>,
    seeds: usize,
}

impl Pool {
    fn new(seeds: Vec<Vec<u8>>) -> Pool {
        assert!(!seeds.is_empty(), "a target needs at least one seed");
        Pool {
            seeds: seeds.len(),
            inputs: seeds,
        }
    }

    fn pick(&self, rng: &mut Rng) -> &[u8] {
        &self.inputs[below(rng, self.inputs.len())]
    }

    /// Keeps one input in four, replacing an earlier sample when full.
    fn offer(&mut self, input: Vec<u8>, rng: &mut Rng) {
        if input.len() > POOL_SAMPLE_MAX_BYTES || below(rng, 4) != 0 {
            return;
        }
        if self.inputs.len() < self.seeds + POOL_SAMPLES {
            self.inputs.push(input);
        } else {
            let slot = self.seeds + below(rng, POOL_SAMPLES);
            self.inputs[slot] = input;
        }
    }
}

fn below(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

fn next_input(target: &dyn Target, rng: &mut Rng, pool: &Pool) -> Vec<u8> {
    let (mut input, mut rounds) = match below(rng, 10) {
        0..=2 => match target.generate(rng) {
            // Generated inputs are often checked as they are: they are
            // well-formed in ways mutations rarely keep.
            Some(generated) => (generated, below(rng, 3)),
            None => (pool.pick(rng).to_vec(), 1),
        },
        3 => {
            let (first, second) = (pool.pick(rng), pool.pick(rng));
            let cut_first = below(rng, first.len() + 1);
            let cut_second = below(rng, second.len() + 1);
            let spliced = [&first[..cut_first], &second[cut_second..]].concat();
            (spliced, below(rng, 2))
        }
        _ => (pool.pick(rng).to_vec(), 1),
    };
    // Mostly one or two mutations, sometimes a pile of them.
    while rounds > 0 && below(rng, 2) == 0 && rounds < 16 {
        rounds += 1;
    }
    for _ in 0..rounds {
        mutate(&mut input, rng, pool, target.dictionary());
    }
    input.truncate(MAX_INPUT_BYTES);
    input
}

/// The byte-level mutations.
#[derive(Debug, Clone, Copy)]
enum Mutation {
    FlipBit,
    SetInterestingByte,
    SetRandomByte,
    InsertBytes,
    InsertToken,
    DeleteRange,
    DuplicateRange,
    SpliceIn,
    ReplaceNumber,
    Truncate,
}

const MUTATIONS: [Mutation; 10] = [
    Mutation::FlipBit,
    Mutation::SetInterestingByte,
    Mutation::SetRandomByte,
    Mutation::InsertBytes,
    Mutation::InsertToken,
    Mutation::DeleteRange,
    Mutation::DuplicateRange,
    Mutation::SpliceIn,
    Mutation::ReplaceNumber,
    Mutation::Truncate,
];

/// Bytes that delimit or change meaning in text protocols: line ends, RESP
/// type bytes, signs and digits, quotes and escapes, blanks (including the
/// vertical tab and form feed, where C's `isspace` and Rust's differ), and
/// bytes that are not ASCII.
const INTERESTING_BYTES: &[u8] = b"\0\r\n*$-+:0123456789\"'\\ \t\x0b\x0cx\x7f\x80\xff";

/// Numbers at the edges of the limits and integer types a parser meets:
/// the RESP limits (a count of 1 MiB, 512 MiB bulk lengths, 64 KiB lines),
/// `i32` and `i64` bounds, past `u64`, and forms `string2ll` must reject.
const INTERESTING_NUMBERS: &[&[u8]] = &[
    b"-1",
    b"0",
    b"1",
    b"2",
    b"65535",
    b"65536",
    b"65537",
    b"1048576",
    b"1048577",
    b"536870912",
    b"536870913",
    b"2147483647",
    b"2147483648",
    b"4294967296",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"99999999999999999999",
    b"00",
    b"01",
    b"007",
    b"-0",
    b"+1",
    b" 1",
    b"1 ",
    b"",
];

fn mutate(input: &mut Vec<u8>, rng: &mut Rng, pool: &Pool, dictionary: &[&[u8]]) {
    let mutation = MUTATIONS[below(rng, MUTATIONS.len())];
    let len = input.len();
    match mutation {
        Mutation::FlipBit if len > 0 => {
            let at = below(rng, len);
            input[at] ^= 1 << below(rng, 8);
        }
        Mutation::SetInterestingByte if len > 0 => {
            let at = below(rng, len);
            input[at] = INTERESTING_BYTES[below(rng, INTERESTING_BYTES.len())];
        }
        Mutation::SetRandomByte if len > 0 => {
            let at = below(rng, len);
            input[at] = rng.next_u64() as u8;
        }
        Mutation::DeleteRange if len > 0 => {
            let (start, end) = pick_range(rng, len);
            input.drain(start..end);
        }
        Mutation::DuplicateRange if len > 0 => {
            let (start, end) = pick_range(rng, len);
            let copy = input[start..end].to_vec();
            // Sometimes many copies, to reach limits and long runs.
            let copies = if below(rng, 8) == 0 {
                1 + below(rng, 256)
            } else {
                1
            };
            let at = below(rng, len + 1);
            let repeated = copy.repeat(copies);
            input.splice(at..at, repeated);
        }
        Mutation::Truncate if len > 0 => input.truncate(below(rng, len)),
        Mutation::InsertToken if !dictionary.is_empty() => {
            let token = dictionary[below(rng, dictionary.len())];
            let at = below(rng, len + 1);
            input.splice(at..at, token.iter().copied());
        }
        Mutation::SpliceIn => {
            let other = pool.pick(rng);
            if !other.is_empty() {
                let (start, end) = pick_range(rng, other.len());
                let at = below(rng, len + 1);
                let piece = other[start..end].to_vec();
                input.splice(at..at, piece);
            }
        }
        Mutation::ReplaceNumber => replace_number(input, rng),
        // Inserting is also the fallback for an empty input or an empty
        // dictionary.
        _ => {
            let count = 1 + below(rng, 8);
            let at = below(rng, len + 1);
            let bytes: Vec<u8> = (0..count)
                .map(|_| match below(rng, 2) {
                    0 => INTERESTING_BYTES[below(rng, INTERESTING_BYTES.len())],
                    _ => rng.next_u64() as u8,
                })
                .collect();
            input.splice(at..at, bytes);
        }
    }
}

/// A range of `1..=len` bytes within `len`, short more often than long.
fn pick_range(rng: &mut Rng, len: usize) -> (usize, usize) {
    let longest = match below(rng, 4) {
        0 => len,
        1 => len.min(64),
        _ => len.min(8),
    };
    let range_len = 1 + below(rng, longest);
    let start = below(rng, len - range_len + 1);
    (start, start + range_len)
}

/// Replaces a decimal number in the input (a run of digits, with its `-`)
/// by an interesting one or a neighbour of itself; without a number in the
/// input, inserts one.
fn replace_number(input: &mut Vec<u8>, rng: &mut Rng) {
    let mut numbers = Vec::new();
    let mut i = 0;
    while i < input.len() {
        if input[i].is_ascii_digit() {
            let start = if i > 0 && input[i - 1] == b'-' {
                i - 1
            } else {
                i
            };
            while i < input.len() && input[i].is_ascii_digit() {
                i += 1;
            }
            numbers.push((start, i));
        } else {
            i += 1;
        }
    }
    let chosen = numbers.get(below(rng, numbers.len().max(1))).copied();
    let replacement: Vec<u8> = match chosen {
        Some((start, end)) if below(rng, 3) == 0 => {
            // Off by a little: a length one short or long misaligns
            // everything after it.
            let text = std::str::from_utf8(&input[start..end]).unwrap_or("0");
            let value: i128 = text.parse().unwrap_or(0);
            let delta = below(rng, 7) as i128 - 3;
            (value + delta).to_string().into_bytes()
        }
        _ => INTERESTING_NUMBERS[below(rng, INTERESTING_NUMBERS.len())].to_vec(),
    };
    let (start, end) = chosen.unwrap_or_else(|| {
        let at = below(rng, input.len() + 1);
        (at, at)
    });
    input.splice(start..end, replacement);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A target with planted bugs: it panics on any input holding a number
    /// above `i32::MAX`, and fails (without panicking) on inputs holding
    /// `BUG`.
    struct Planted;

    const PLANTED_BUG: &str = "contains BUG";

    impl Target for Planted {
        fn name(&self) -> &'static str {
            "planted"
        }

        fn seeds(&self) -> Vec<Vec<u8>> {
            vec![b"*1\r\n$4\r\nPING\r\n".to_vec()]
        }

        fn check(&self, input: &[u8], _variant: u64) -> Result<(), Failure> {
            for number in input.split(|b| !b.is_ascii_digit()) {
                let number = std::str::from_utf8(number).unwrap_or("");
                if number.parse::<u128>().is_ok_and(|n| n > i32::MAX as u128) {
                    panic!("planted overflow at {number}");
                }
            }
            if input.windows(3).any(|w| w == b"BUG") {
                return Err(Failure {
                    kind: PLANTED_BUG,
                    detail: "found BUG".to_string(),
                });
            }
            Ok(())
        }
    }

    #[test]
    fn shrinker_deletes_everything_the_failure_does_not_need() {
        let shrunk = shrink(&Planted, b"xxBxUG yy BUG zzzzzzzzzz", 0, PLANTED_BUG);
        assert_eq!(shrunk, b"BUG");
        // Ten nines are the fewest that still overflow.
        let shrunk = shrink(&Planted, b"*1\r\n$99999999999\r\n", 0, PANIC);
        assert_eq!(shrunk, b"9999999999");
    }

    #[test]
    fn shrinker_keeps_the_kind_of_failure() {
        // Deleting the number would trade the panic for the other failure,
        // and the shrinker must not accept that: it ends at the number.
        let input = b"BUG 4000000000 BUG";
        assert_eq!(run_one(&Planted, input, 0).unwrap_err().kind, PANIC);
        assert_eq!(shrink(&Planted, input, 0, PANIC), b"4000000000");
    }

    #[test]
    fn panics_become_failures_with_their_message_and_location() {
        let failure = run_one(&Planted, b"x 5000000000 y", 7).unwrap_err();
        assert_eq!(failure.kind, PANIC);
        assert!(
            failure.detail.contains("planted overflow at 5000000000"),
            "{}",
            failure.detail
        );
        assert!(failure.detail.contains("engine.rs"), "{}", failure.detail);
        assert_eq!(run_one(&Planted, b"x 1 y", 7), Ok(()));
    }

    #[test]
    fn fuzz_finds_a_planted_bug_and_reports_it_reproducibly() {
        let found = fuzz(&Planted, 42, Budget::Inputs(200_000)).unwrap_err();
        assert!(
            found.contains("fuzz target `planted` failed: panic"),
            "{found}"
        );
        assert!(found.contains("from seed 0x2a"), "{found}");
        assert!(found.contains("bytes:\nb\""), "{found}");
        // The same seed finds the same thing.
        assert_eq!(
            fuzz(&Planted, 42, Budget::Inputs(200_000)).unwrap_err(),
            found
        );
    }
}
