//! TEMPORARY stub (a sorted Vec) until the B+tree lands.
use crate::db::bytes::SmallBytes;

#[derive(Clone, Default, Debug)]
pub struct Tree {
    v: Vec<(f64, SmallBytes)>,
}

fn lt(a: (f64, &[u8]), b: (f64, &[u8])) -> bool {
    a.0 < b.0 || (a.0 == b.0 && a.1 < b.1)
}

impl Tree {
    pub fn new() -> Tree {
        Tree::default()
    }
    pub fn len(&self) -> usize {
        self.v.len()
    }
    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }
    fn pos(&self, score: f64, member: &[u8]) -> usize {
        self.v
            .partition_point(|(s, m)| lt((*s, m.as_slice()), (score, member)))
    }
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        let i = self.pos(score, member);
        self.v.insert(i, (score, SmallBytes::new(member)));
    }
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let i = self.pos(score, member);
        if i < self.v.len() && self.v[i].1.as_slice() == member {
            self.v.remove(i);
            true
        } else {
            false
        }
    }
    pub fn update_score(&mut self, member: &[u8], old: f64, new: f64) {
        self.remove(old, member);
        self.insert(new, member);
    }
    pub fn count_while(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        self.v.partition_point(|(s, m)| pred(*s, m.as_slice()))
    }
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let i = self.pos(score, member);
        (i < self.v.len() && self.v[i].1.as_slice() == member).then_some(i)
    }
    pub fn get(&self, i: usize) -> Option<(f64, &[u8])> {
        self.v.get(i).map(|(s, m)| (*s, m.as_slice()))
    }
    pub fn iter_from(&self, i: usize) -> impl Iterator<Item = (f64, &[u8])> + '_ {
        self.v.iter().skip(i).map(|(s, m)| (*s, m.as_slice()))
    }
    pub fn iter_rev_from(&self, i: usize) -> impl Iterator<Item = (f64, &[u8])> + '_ {
        let n = if i >= self.v.len() { 0 } else { i + 1 };
        self.v[..n].iter().rev().map(|(s, m)| (*s, m.as_slice()))
    }
    pub fn remove_range(&mut self, start: usize, end: usize, mut f: impl FnMut(f64, &[u8])) {
        let end = end.min(self.v.len());
        if start >= end {
            return;
        }
        for (s, m) in self.v.drain(start..end) {
            f(s, m.as_slice());
        }
    }
    pub fn heap_bytes(&self) -> usize {
        self.v.capacity() * 32
    }
}
