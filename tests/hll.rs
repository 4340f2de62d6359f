//! HyperLogLog against redis-server: the same elements must give the same
//! bytes, since the value is a string that GET, DUMP, RDB files and
//! replicas carry between the two.
//!
//! # Layout
//!
//! 1. [`same_elements_same_bytes`]: seeded random sets of every size, from
//!    one element to past the promotion to dense, added in random batches
//!    to a key on each server (with PFCOUNTs between, which write the
//!    cached count); after each set, GET, PFCOUNT, PFDEBUG ENCODING and
//!    DUMP must be byte-identical. Elements computed to have runs of 1 to
//!    51 zero bits ([`element_for`]): up to 32 a sparse key keeps them,
//!    past 32 it becomes dense at once. A lower `hll-sparse-max-bytes`
//!    repeats a few sizes.
//! 2. [`merges_counts_and_values_cross_between_servers`]: PFMERGE and
//!    multi-key PFCOUNT of random subsets of such keys; then each server's
//!    bytes SET into the other, grown by both, merged again; then a DEBUG
//!    RELOAD (an RDB round trip) on both, and every key compared again.
//!
//! When redis-server is not on PATH each test says it was skipped and
//! passes.

mod common;

use common::Pair;
use ferrokv::util::Rng;

/// An 8-byte element whose hash (MurmurHash64A, seed 0xadc83b19, as
/// Redis hashes HyperLogLog elements) puts it on register `index` with a
/// run of `run` (1 to 51): the hash of one word is invertible, so the
/// element is computed backwards from the hash wanted. Runs past 32 come
/// once in billions of random elements; a sparse key cannot hold them.
fn element_for(index: u64, run: u32) -> Vec<u8> {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const SEED: u64 = 0xadc8_3b19;
    // The inverse of M modulo 2^64 by Newton's iteration; and a right
    // xorshift by 47 undoes itself, since 2 * 47 >= 64.
    let mut m_inv = M;
    for _ in 0..6 {
        m_inv = m_inv.wrapping_mul(2u64.wrapping_sub(M.wrapping_mul(m_inv)));
    }
    let unshift = |x: u64| x ^ (x >> 47);
    let run_bit = if run > 50 { 0 } else { 1u64 << (14 + run - 1) };
    let hash = index | run_bit;
    let mut h = unshift(hash).wrapping_mul(m_inv);
    h = unshift(h).wrapping_mul(m_inv);
    let k = (h ^ SEED ^ 8u64.wrapping_mul(M)).wrapping_mul(m_inv);
    unshift(k).wrapping_mul(m_inv).to_le_bytes().to_vec()
}

/// What the tests here do with the two servers, on top of
/// [`Pair::both`].
trait Compare {
    fn one(&mut self, args: &[&[u8]]) -> Vec<u8>;
    fn add(&mut self, rng: &mut Rng, key: &[u8], elements: &[Vec<u8>]);
    fn check(&mut self, key: &[u8]);
}

impl Compare for Pair {
    fn one(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        self.both(&[args]).remove(0)
    }

    /// Adds `elements` to `key` on both in random batches, with a PFCOUNT
    /// now and then; every reply compared.
    fn add(&mut self, rng: &mut Rng, key: &[u8], elements: &[Vec<u8>]) {
        let mut commands = Vec::new();
        let mut rest = elements;
        loop {
            let n = (1 + rng.below(48) as usize).min(rest.len());
            let mut args = vec![b"PFADD".to_vec(), key.to_vec()];
            args.extend(rest[..n].iter().cloned());
            commands.push(args);
            rest = &rest[n..];
            if rng.below(10) == 0 {
                commands.push(vec![b"PFCOUNT".to_vec(), key.to_vec()]);
            }
            if rest.is_empty() {
                break;
            }
        }
        self.both(&commands);
    }

    /// GET, PFCOUNT, the encoding and DUMP of `key`, compared.
    fn check(&mut self, key: &[u8]) {
        let commands: Vec<Vec<Vec<u8>>> = [&b"GET"[..], b"PFCOUNT", b"GET", b"PFCOUNT", b"DUMP"]
            .iter()
            .map(|c| vec![c.to_vec(), key.to_vec()])
            .chain(std::iter::once(vec![
                b"PFDEBUG".to_vec(),
                b"ENCODING".to_vec(),
                key.to_vec(),
            ]))
            .collect();
        self.both(&commands);
    }
}

/// `n` random elements: binary strings of every short length, numbers, and
/// repeats of earlier ones.
fn elements(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(n);
    for _ in 0..n {
        let element = match rng.below(10) {
            0 if !out.is_empty() => out[rng.below(out.len() as u64) as usize].clone(),
            1..=4 => rng.next_u64().to_string().into_bytes(),
            _ => {
                let len = rng.below(25) as usize;
                common::random_bytes(rng, len)
            }
        };
        out.push(element);
    }
    out
}

const SIZES: &[usize] = &[
    0, 1, 2, 7, 30, 100, 300, 700, 1200, 2000, 3000, 5000, 12000, 50000,
];

#[test]
fn same_elements_same_bytes() {
    let Some(mut pair) = Pair::start("HyperLogLog bytes") else {
        return;
    };
    let mut rng = Rng::new(0x4859_4c4c);
    for (i, &n) in SIZES.iter().enumerate() {
        let key = format!("h{i}").into_bytes();
        pair.one(&[b"PFADD", &key]);
        let set = elements(&mut rng, n);
        pair.add(&mut rng, &key, &set);
        pair.check(&key);
    }
    // Runs past 32 promote a sparse key at once, whatever its size; runs
    // up to 32 (here on registers of their own) keep it sparse.
    for (i, &n) in [0usize, 5, 200].iter().enumerate() {
        let key = format!("long{i}").into_bytes();
        let set = elements(&mut rng, n);
        pair.add(&mut rng, &key, &set);
        let short: Vec<Vec<u8>> = (1..=32)
            .map(|run| element_for(run as u64 * 7, run))
            .collect();
        pair.add(&mut rng, &key, &short);
        let encoding = [&b"PFDEBUG"[..], b"ENCODING", &key];
        assert_eq!(pair.one(&encoding), b"+sparse\r\n");
        pair.check(&key);
        let run = 33 + rng.below(19) as u32;
        let long = element_for(rng.below(16384), run);
        pair.add(&mut rng, &key, &[long]);
        assert_eq!(pair.one(&encoding), b"+dense\r\n");
        pair.check(&key);
    }
    for limit in ["0", "40", "300"] {
        pair.one(&[b"CONFIG", b"SET", b"hll-sparse-max-bytes", limit.as_bytes()]);
        for n in [1usize, 20, 150] {
            let key = format!("limit{limit}-{n}").into_bytes();
            let set = elements(&mut rng, n);
            pair.add(&mut rng, &key, &set);
            pair.check(&key);
        }
    }
}

#[test]
fn merges_counts_and_values_cross_between_servers() {
    let Some(mut pair) = Pair::start("HyperLogLog merges") else {
        return;
    };
    let mut rng = Rng::new(0x4d45_5247);
    let keys: Vec<Vec<u8>> = (0..10).map(|i| format!("m{i}").into_bytes()).collect();
    for key in &keys {
        let n = SIZES[rng.below(SIZES.len() as u64) as usize].min(5000);
        let set = elements(&mut rng, n);
        pair.add(&mut rng, key, &set);
    }
    pair.add(&mut rng, &keys[0], &[element_for(100, 51)]);
    pair.add(&mut rng, &keys[1], &[element_for(100, 40)]);
    let mut dests = Vec::new();
    for round in 0..20 {
        let dest = format!("u{round}").into_bytes();
        let mut merge = vec![b"PFMERGE".to_vec(), dest.clone()];
        let mut count = vec![b"PFCOUNT".to_vec()];
        for _ in 0..1 + rng.below(4) {
            let key = keys[rng.below(keys.len() as u64) as usize].clone();
            merge.push(key.clone());
            count.push(key);
        }
        if rng.below(4) == 0 {
            count.push(b"nokey".to_vec());
        }
        pair.both(&[merge, count]);
        pair.check(&dest);
        dests.push(dest);
    }

    // Each server's bytes into the other, then grown and merged by both.
    for key in &keys {
        let get = vec![b"GET".to_vec(), key.clone()];
        let theirs = value_of(&pair.theirs.cmd(&get));
        let ours = value_of(&pair.ours.cmd(&get));
        let copy = [b"x:".to_vec(), key.clone()].concat();
        pair.ours
            .cmd(&[&b"SET"[..], &copy, &theirs])
            .starts_with(b"+OK")
            .then_some(())
            .expect("SET redis-server's bytes into ferrokv");
        pair.theirs
            .cmd(&[&b"SET"[..], &copy, &ours])
            .starts_with(b"+OK")
            .then_some(())
            .expect("SET ferrokv's bytes into redis-server");
        pair.check(&copy);
        let set = elements(&mut rng, 300);
        pair.add(&mut rng, &copy, &set);
        pair.check(&copy);
    }
    let mut merge = vec![b"PFMERGE".to_vec(), b"x:all".to_vec()];
    merge.extend(keys.iter().map(|k| [b"x:".to_vec(), k.clone()].concat()));
    pair.both(&[merge]);
    pair.check(b"x:all");

    // An RDB round trip keeps every byte.
    pair.one(&[b"DEBUG", b"RELOAD"]);
    for key in keys.iter().chain(&dests) {
        pair.check(key);
    }
}

/// The bytes of a bulk-string reply.
fn value_of(reply: &[u8]) -> Vec<u8> {
    let header_end = common::find(reply, b"\r\n").expect("a bulk reply");
    reply[header_end + 2..reply.len() - 2].to_vec()
}
