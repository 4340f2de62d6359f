//! The two sorts Redis orders replies with, reproduced step by step:
//! elements that compare equal (geo members at one position, SORT's equal
//! weights) come out in the order these algorithms leave them, which no
//! other sort would.
//!
//! A full sort is the C library's `qsort`, which glibc implements as a
//! stable top-down merge sort ([`merge_sort`]). Where only some ranks are
//! returned (GEOSEARCH with COUNT, SORT BY with LIMIT), Redis's own
//! `pqsort` sorts only those ([`partial_quicksort`]).
//!
//! The comparisons are Redis's `int` comparators, which need not be a
//! total order (a NaN distance compares below everything and everything
//! below it); neither sort relies on one, so neither can panic.

/// glibc's `msort_with_tmp`: sorts `v` stably by `cmp` (negative, zero
/// or positive, as C's comparators return).
pub fn merge_sort<T>(v: &mut Vec<T>, cmp: impl Fn(&T, &T) -> i32) {
    let mut order: Vec<usize> = (0..v.len()).collect();
    let mut tmp = vec![0usize; v.len()];
    msort(&mut order, &mut tmp, &|a, b| cmp(&v[a], &v[b]));
    let mut slots: Vec<Option<T>> = v.drain(..).map(Some).collect();
    v.extend(order.iter().filter_map(|&i| slots[i].take()));
}

fn msort(b: &mut [usize], tmp: &mut [usize], cmp: &impl Fn(usize, usize) -> i32) {
    let n = b.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    let (b1, b2) = b.split_at_mut(n1);
    msort(b1, tmp, cmp);
    msort(b2, tmp, cmp);
    let (mut i, mut j, mut k) = (0, 0, 0);
    while i < b1.len() && j < b2.len() {
        if cmp(b1[i], b2[j]) <= 0 {
            tmp[k] = b1[i];
            i += 1;
        } else {
            tmp[k] = b2[j];
            j += 1;
        }
        k += 1;
    }
    // What is left of the first half follows; what is left of the second
    // is already in place.
    let rest = b1.len() - i;
    tmp[k..k + rest].copy_from_slice(&b1[i..]);
    k += rest;
    b[..k].copy_from_slice(&tmp[..k]);
}

/// Redis's `pqsort` (Bentley and McIlroy's quicksort that skips every
/// part lying wholly outside ranks `lrange..=rrange`): afterwards those
/// ranks hold what a full sort would put there.
pub fn partial_quicksort<T>(
    v: &mut [T],
    lrange: usize,
    rrange: usize,
    cmp: impl Fn(&T, &T) -> i32,
) {
    // The parts still to sort. C recurses into the left part and loops
    // on the right one; the parts are disjoint, so the order they are
    // sorted in changes nothing, and an explicit stack bounds the depth.
    let mut parts = vec![(0usize, v.len())];
    let wanted = |start: usize, n: usize| {
        let end = start + n;
        !((lrange < start && rrange < start) || (lrange >= end && rrange >= end))
    };
    while let Some((a, n)) = parts.pop() {
        if n < 7 {
            for pm in a + 1..a + n {
                let mut pl = pm;
                while pl > a && cmp(&v[pl - 1], &v[pl]) > 0 {
                    v.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            continue;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, &cmp);
                pm = med3(v, pm - d, pm, pm + d, &cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, &cmp);
            }
            pm = med3(v, pl, pm, pn, &cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let c = cmp(&v[pb], &v[a]);
                if c > 0 {
                    break;
                }
                if c == 0 {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let c = cmp(&v[pc], &v[a]);
                if c < 0 {
                    break;
                }
                if c == 0 {
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
        vec_swap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vec_swap(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && wanted(a, r) {
            parts.push((a, r));
        }
        let r = pd - pc;
        if r > 1 && wanted(pn - r, r) {
            parts.push((pn - r, r));
        }
    }
}

fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> i32) -> usize {
    if cmp(&v[a], &v[b]) < 0 {
        if cmp(&v[b], &v[c]) < 0 {
            b
        } else if cmp(&v[a], &v[c]) < 0 {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) > 0 {
        b
    } else if cmp(&v[a], &v[c]) < 0 {
        a
    } else {
        c
    }
}

fn vec_swap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &(u32, u32), b: &(u32, u32)) -> i32 {
        a.0.cmp(&b.0) as i32
    }

    #[test]
    fn merge_sort_is_stable() {
        let mut v: Vec<(u32, u32)> = (0..100).map(|i| ((i * 7) % 5, i)).collect();
        let mut expected = v.clone();
        expected.sort_by_key(|p| p.0);
        merge_sort(&mut v, cmp);
        assert_eq!(v, expected);
    }

    #[test]
    fn partial_quicksort_orders_the_wanted_ranks() {
        let mut rng = crate::util::Rng::new(7);
        for n in [0usize, 1, 5, 7, 8, 41, 300] {
            let v: Vec<(u32, u32)> = (0..n as u32).map(|i| (rng.below(50) as u32, i)).collect();
            let mut full = v.clone();
            full.sort_by_key(|p| p.0);
            for upto in [0usize, 3, n / 2, n.saturating_sub(1)] {
                if upto >= n {
                    continue;
                }
                let mut part = v.clone();
                partial_quicksort(&mut part, 0, upto, cmp);
                let keys: Vec<u32> = part[..=upto].iter().map(|p| p.0).collect();
                let want: Vec<u32> = full[..=upto].iter().map(|p| p.0).collect();
                assert_eq!(keys, want, "n={n} upto={upto}");
            }
        }
    }

    #[test]
    fn inconsistent_comparisons_do_not_panic() {
        let nan_cmp = |a: &f64, b: &f64| {
            if a > b {
                1
            } else if a == b {
                0
            } else {
                -1
            }
        };
        let mut v: Vec<f64> = (0..200)
            .map(|i| {
                if i % 3 == 0 {
                    f64::NAN
                } else {
                    f64::from(i % 17)
                }
            })
            .collect();
        partial_quicksort(&mut v, 0, 10, nan_cmp);
        merge_sort(&mut v, nan_cmp);
        assert_eq!(v.len(), 200);
    }
}
