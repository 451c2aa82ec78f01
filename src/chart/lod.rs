//! A min/max level-of-detail pyramid over one curve, so that drawing costs what the screen shows,
//! not what was logged.
//!
//! Level `k` (1, 2, …) holds one node per `8^k` consecutive points: its smallest and largest
//! value and their indices (first occurrence on ties; NaN is never picked while the node has a
//! number), and its first and last x. A node's first and last points are implied by its position.
//! Nodes copy values and x rather than point at them so that a reduction reads the levels in
//! order instead of jumping around the points (those cache misses were most of its time).
//! Memory: about 5.7 bytes per point (`8 / 7` nodes of 40 bytes per 8 points).
//!
//! [`Pyramid::reduce`] returns, for `buckets` pixel columns over `[x0, x1]`, the first, min, max
//! and last point of each column (M4), exactly what a pass over every point in range would keep
//! ([`reduce_brute`], the reference of the tests), by walking the largest nodes that fit inside one
//! column: about `8 × levels` nodes per column, whatever the number of points. Charts use
//! [`Pyramid::reduce_subpixel`], which leaves nodes narrower than a quarter of a column whole
//! where they cross a column edge: the same picture within a quarter pixel, and 3× less work
//! with a hundred long curves on screen (the finest levels were most of the reads).

/// Points per node of level 1, and nodes per node of the next level.
pub const FANOUT: usize = 8;
const SHIFT: u32 = FANOUT.trailing_zeros();
/// [`Pyramid::reduce_subpixel`] leaves nodes narrower than this fraction of a column whole.
pub const SUBPIXEL: usize = 4;

/// The pyramid of one curve's values (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pyramid {
    /// Number of values covered.
    len: usize,
    /// `levels[k - 1]`: nodes of level `k`.
    levels: Vec<Vec<Node>>,
}

/// The extremes of a run of points, and its first and last x.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    min: f64,
    max: f64,
    x_first: f64,
    x_last: f64,
    imin: u32,
    imax: u32,
}

impl Node {
    fn point(i: usize, x: f64, y: f64) -> Node {
        Node {
            min: y,
            max: y,
            x_first: x,
            x_last: x,
            imin: i as u32,
            imax: i as u32,
        }
    }

    /// Takes in the next run of points (`o` comes after `self`).
    fn merge(&mut self, o: &Node) {
        self.x_last = o.x_last;
        if better_min(o.min, self.min) {
            self.min = o.min;
            self.imin = o.imin;
        }
        if better_max(o.max, self.max) {
            self.max = o.max;
            self.imax = o.imax;
        }
    }
}

/// Whether `a` is a better minimum than `b`: smaller, or a number where `b` is NaN.
fn better_min(a: f64, b: f64) -> bool {
    a < b || (b.is_nan() && !a.is_nan())
}

/// Whether `a` is a better maximum than `b`.
fn better_max(a: f64, b: f64) -> bool {
    a > b || (b.is_nan() && !a.is_nan())
}

impl Pyramid {
    /// Builds the pyramid of the curve `xs`/`ys` (x non-decreasing).
    pub fn new(xs: &[f64], ys: &[f64]) -> Pyramid {
        let mut p = Pyramid::default();
        p.extend(xs, ys);
        p
    }

    /// Number of values covered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no value is covered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.levels
            .iter()
            .map(|l| l.capacity() * std::mem::size_of::<Node>())
            .sum()
    }

    /// Number of levels above the points.
    pub fn levels(&self) -> usize {
        self.levels.len()
    }

    /// Brings the pyramid up to date with `xs`/`ys`, whose first [`Self::len`] points are the
    /// ones already covered (live refresh appends): only the last node of each level and the new
    /// ones are computed. A shorter curve is taken as new data and rebuilt.
    pub fn extend(&mut self, xs: &[f64], ys: &[f64]) {
        let n = xs.len().min(ys.len());
        if n < self.len {
            *self = Pyramid::default();
        }
        // Indices are stored as u32; a longer curve keeps the levels it has (drawn from points).
        if u32::try_from(n).is_err() {
            return;
        }
        let old = self.len;
        self.len = n;
        if n == 0 {
            return;
        }
        // The first node of each level that changes: the one holding the first new point.
        let mut from = old >> SHIFT;
        let mut below = n; // items of the level below (points for level 1)
        let mut k = 0;
        while below > 1 {
            let count = below.div_ceil(FANOUT);
            if self.levels.len() == k {
                self.levels.push(Vec::with_capacity(count));
            }
            let (done, rest) = self.levels.split_at_mut(k);
            let level = &mut rest[0];
            level.truncate(from.min(level.len()));
            for j in level.len()..count {
                let start = j * FANOUT;
                let end = (start + FANOUT).min(below);
                let node = if k == 0 {
                    let mut node = Node::point(start, xs[start], ys[start]);
                    for i in start + 1..end {
                        node.merge(&Node::point(i, xs[i], ys[i]));
                    }
                    node
                } else {
                    let children = &done[k - 1][start..end];
                    let mut node = children[0];
                    for c in &children[1..] {
                        node.merge(c);
                    }
                    node
                };
                level.push(node);
            }
            below = count;
            from >>= SHIFT;
            k += 1;
        }
        // A level left over from a longer build (never after appends, kept for safety).
        self.levels.truncate(k);
    }

    /// The indices of the points to draw `xs`/`ys` (x non-decreasing, the values this pyramid
    /// was built on) at `buckets` pixel columns over `[x0, x1]`: per column its first, min, max
    /// and last point, plus the nearest point outside each side of the range (so lines reach
    /// the edges) and both ends (so automatic bounds see all the data); sorted, without
    /// duplicates. Small inputs are returned whole. Equal to [`reduce_brute`]. The pyramid must
    /// have been built on these points (one of another length is not used).
    pub fn reduce(&self, xs: &[f64], ys: &[f64], x0: f64, x1: f64, buckets: usize) -> Vec<usize> {
        self.reduce_to_level(xs, ys, x0, x1, buckets, 0)
    }

    /// [`Self::reduce`] that does not split nodes narrower than 1/[`SUBPIXEL`] of a column: such
    /// a node across a column edge is counted in the column of its first point. The points kept
    /// are still real points drawn where they are, so the picture differs from the exact one by
    /// less than 1/[`SUBPIXEL`] of a pixel horizontally; it skips the finest levels (and the
    /// points themselves) at every column edge, which were most of the reads with many long
    /// curves on screen. Range edges stay exact.
    pub fn reduce_subpixel(
        &self,
        xs: &[f64],
        ys: &[f64],
        x0: f64,
        x1: f64,
        buckets: usize,
    ) -> Vec<usize> {
        let n = xs.len().min(ys.len());
        let per_col = n / buckets.max(1);
        let level = (per_col / SUBPIXEL)
            .checked_ilog2()
            .map_or(0, |b| (b / SHIFT) as usize);
        self.reduce_to_level(xs, ys, x0, x1, buckets, level)
    }

    /// The reduction, splitting nodes across column edges down to level `min_level` only.
    fn reduce_to_level(
        &self,
        xs: &[f64],
        ys: &[f64],
        x0: f64,
        x1: f64,
        buckets: usize,
        min_level: usize,
    ) -> Vec<usize> {
        let n = xs.len().min(ys.len());
        let buckets = buckets.max(1);
        if n <= buckets.saturating_mul(4)
            || x1.partial_cmp(&x0) != Some(std::cmp::Ordering::Greater)
        {
            return (0..n).collect();
        }
        let xs = &xs[..n];
        let lo = xs.partition_point(|&x| x < x0);
        let hi = xs.partition_point(|&x| x <= x1); // exclusive
        let mut keep: Vec<usize> = Vec::with_capacity(buckets * 4 + 4);
        keep.push(0);
        if lo > 0 {
            keep.push(lo - 1);
        }
        // Columns by a multiplication (not a division per point); the reference uses the same.
        let scale = buckets as f64 / (x1 - x0);
        let col = |x: f64| (((x - x0) * scale) as usize).min(buckets - 1);
        // A pyramid of other values is not used (the points are walked one by one).
        let levels = if self.len == n { self.levels.len() } else { 0 };
        // The column being filled: (column, first index, extremes, last index).
        let mut acc: Option<(usize, usize, Node, usize)> = None;
        let flush = |acc: Option<(usize, usize, Node, usize)>, keep: &mut Vec<usize>| {
            if let Some((_, first, node, last)) = acc {
                push_sorted(keep, [first, node.imin as usize, node.imax as usize, last]);
            }
        };
        // The largest aligned node that fits in one column, trying one level above the last
        // node first (nodes grow back after a column edge), but none larger than an average
        // column (it would rarely fit, and each try reads a node: a cache miss).
        let per_col = ((hi - lo) / buckets).max(1);
        let cap = ((per_col.ilog2() / SHIFT) as usize).min(levels);
        let mut k_last = 0;
        let mut i = lo;
        while i < hi {
            let mut k = (k_last + 1).min(cap);
            // Only the nodes are read, not the points they cover (far apart: cache misses).
            let (size, node) = loop {
                if k == 0 {
                    break (1, Node::point(i, xs[i], ys[i]));
                }
                let shift = SHIFT * k as u32;
                let size = 1usize << shift;
                if i & (size - 1) == 0 && i + size <= hi {
                    let node = self.levels[k - 1][i >> shift];
                    if col(node.x_first) == col(node.x_last) || k <= min_level {
                        break (size, node);
                    }
                }
                k -= 1;
            };
            k_last = k;
            let c = col(node.x_first);
            let last = i + size - 1;
            match &mut acc {
                Some((ac, _, an, alast)) if *ac == c => {
                    an.merge(&node);
                    *alast = last;
                }
                _ => {
                    flush(acc.take(), &mut keep);
                    acc = Some((c, i, node, last));
                }
            }
            i += size;
        }
        flush(acc, &mut keep);
        if hi < n {
            keep.push(hi);
        }
        keep.push(n - 1);
        keep.sort_unstable();
        keep.dedup();
        keep
    }
}

fn push_sorted(keep: &mut Vec<usize>, mut four: [usize; 4]) {
    four.sort_unstable();
    keep.extend(four);
}

/// The reference of [`Pyramid::reduce`]: the same points, found by a pass over every point in
/// range (what charts did before the pyramid; also fine for short curves).
pub fn reduce_brute(xs: &[f64], ys: &[f64], x0: f64, x1: f64, buckets: usize) -> Vec<usize> {
    Pyramid::default().reduce(xs, ys, x0, x1, buckets)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An independent per-point M4, written plainly (the tests' oracle).
    fn oracle(xs: &[f64], ys: &[f64], x0: f64, x1: f64, buckets: usize) -> Vec<usize> {
        let n = xs.len();
        // Not `x1 > x0` (also false for NaN): an empty, reversed or NaN range keeps everything.
        if n <= buckets * 4 || x1.partial_cmp(&x0) != Some(std::cmp::Ordering::Greater) {
            return (0..n).collect();
        }
        let scale = buckets as f64 / (x1 - x0);
        let mut cols: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        let mut keep = vec![0, n - 1];
        let mut before = None;
        let mut after = None;
        for (i, &x) in xs.iter().enumerate() {
            if x < x0 {
                before = Some(i);
            } else if x > x1 {
                after = after.or(Some(i));
            } else {
                let c = (((x - x0) * scale) as usize).min(buckets - 1);
                cols.entry(c).or_default().push(i);
            }
        }
        keep.extend(before);
        keep.extend(after);
        for idx in cols.values() {
            let num: Vec<usize> = idx.iter().copied().filter(|&i| !ys[i].is_nan()).collect();
            let pool = if num.is_empty() { idx.clone() } else { num };
            let mn = pool
                .iter()
                .copied()
                .reduce(|a, b| if ys[b] < ys[a] { b } else { a });
            let mx = pool
                .iter()
                .copied()
                .reduce(|a, b| if ys[b] > ys[a] { b } else { a });
            keep.extend([idx[0], *idx.last().unwrap()]);
            keep.extend(mn);
            keep.extend(mx);
        }
        keep.sort_unstable();
        keep.dedup();
        keep
    }

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn node_brute(ys: &[f64], start: usize, end: usize) -> (u32, u32) {
        let (mut mn, mut mx) = (start, start);
        for i in start..end {
            if better_min(ys[i], ys[mn]) {
                mn = i;
            }
            if better_max(ys[i], ys[mx]) {
                mx = i;
            }
        }
        (mn as u32, mx as u32)
    }

    /// (index of min, index of max) of node `j` of level `k`.
    fn at(p: &Pyramid, k: usize, j: usize) -> (u32, u32) {
        let n = p.levels[k - 1][j];
        (n.imin, n.imax)
    }

    #[test]
    fn every_node_holds_the_extremes_of_its_points() {
        let mut r = Rng(7);
        let ys: Vec<f64> = (0..5000).map(|_| r.unit()).collect();
        let xs: Vec<f64> = (0..5000).map(|i| f64::from(i) * 0.5).collect();
        let p = Pyramid::new(&xs, &ys);
        for (k, level) in p.levels.iter().enumerate() {
            let size = FANOUT.pow(k as u32 + 1);
            for (j, node) in level.iter().enumerate() {
                let end = ((j + 1) * size).min(ys.len());
                let (mn, mx) = node_brute(&ys, j * size, end);
                assert_eq!((node.imin, node.imax), (mn, mx), "level {} node {j}", k + 1);
                assert_eq!((node.min, node.max), (ys[mn as usize], ys[mx as usize]));
                assert_eq!((node.x_first, node.x_last), (xs[j * size], xs[end - 1]));
            }
        }
        assert_eq!(p.levels.last().unwrap().len(), 1);
    }

    #[test]
    fn a_spike_is_the_max_of_every_level_above_it() {
        let n = 1_000_000;
        let mut ys = vec![1.0; n];
        ys[734_211] = 1000.0;
        ys[12_345] = -50.0;
        let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let p = Pyramid::new(&xs, &ys);
        assert!(p.levels() >= 6);
        for (k, level) in p.levels.iter().enumerate() {
            let j = 734_211 >> (SHIFT * (k as u32 + 1));
            assert_eq!(
                (level[j].imax, level[j].max),
                (734_211, 1000.0),
                "level {}",
                k + 1
            );
            let j = 12_345 >> (SHIFT * (k as u32 + 1));
            assert_eq!(
                (level[j].imin, level[j].min),
                (12_345, -50.0),
                "level {}",
                k + 1
            );
        }
        // And it is drawn at every zoom.
        let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
        for (x0, x1, b) in [
            (0.0, n as f64, 800),
            (700_000.0, 800_000.0, 300),
            (734_000.0, 734_500.0, 50),
        ] {
            let idx = p.reduce(&xs, &ys, x0, x1, b);
            assert!(idx.contains(&734_211), "{x0}..{x1}");
            assert!(idx.len() <= b * 4 + 4);
            assert_eq!(idx, oracle(&xs, &ys, x0, x1, b));
        }
    }

    #[test]
    fn range_edges_are_exact() {
        let n = 10_000;
        let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let ys: Vec<f64> = (0..n).map(|i| ((i * 7919) % 101) as f64).collect();
        let p = Pyramid::new(&xs, &ys);
        // Edges off node boundaries, on them, on points and between points.
        for (x0, x1) in [
            (1.0, 9998.0),
            (511.0, 4097.0),
            (512.0, 4096.0),
            (100.5, 7000.25),
            (-5.0, 20_000.0),
            (9000.0, 9999.0),
        ] {
            for b in [1, 7, 100, 333] {
                let got = p.reduce(&xs, &ys, x0, x1, b);
                assert_eq!(got, oracle(&xs, &ys, x0, x1, b), "{x0}..{x1} @ {b}");
                assert_eq!(got, reduce_brute(&xs, &ys, x0, x1, b));
            }
        }
        // The nearest points outside the range are kept.
        let got = p.reduce(&xs, &ys, 100.5, 7000.25, 100);
        assert!(got.contains(&100) && got.contains(&7001));
    }

    #[test]
    fn appends_equal_a_rebuild() {
        let mut r = Rng(42);
        let ys: Vec<f64> = (0..20_000).map(|_| r.unit() * 10.0 - 5.0).collect();
        let xs: Vec<f64> = (0..20_000).map(f64::from).collect();
        let whole = Pyramid::new(&xs, &ys);
        for chunks in [
            vec![1, 1, 1],
            vec![7, 8, 9, 64, 4096],
            vec![19_999],
            vec![3, 511, 513],
        ] {
            let mut p = Pyramid::default();
            let mut end = 0;
            for c in chunks {
                end = (end + c).min(ys.len());
                p.extend(&xs[..end], &ys[..end]);
                assert_eq!(p, Pyramid::new(&xs[..end], &ys[..end]), "after {end}");
            }
            p.extend(&xs, &ys);
            assert_eq!(p, whole);
        }
        // Point by point across several levels.
        let mut p = Pyramid::default();
        for end in 0..=600 {
            p.extend(&xs[..end], &ys[..end]);
        }
        assert_eq!(p, Pyramid::new(&xs[..600], &ys[..600]));
        // A shorter curve is new data.
        p.extend(&xs[..10], &ys[..10]);
        assert_eq!(p, Pyramid::new(&xs[..10], &ys[..10]));
    }

    #[test]
    fn nan_never_wins_min_or_max_and_infinities_do() {
        let mut ys = vec![f64::NAN; 64];
        ys[10] = 3.0;
        ys[20] = -2.0;
        ys[40] = f64::INFINITY;
        let xs: Vec<f64> = (0..64).map(f64::from).collect();
        let p = Pyramid::new(&xs, &ys);
        assert_eq!(at(&p, 1, 1), (10, 10));
        assert_eq!(at(&p, 1, 2), (20, 20));
        assert_eq!(at(&p, 2, 0), (20, 40));
        // A node of only NaN points to its first point.
        assert_eq!(at(&p, 1, 0), (0, 0));
        assert_eq!(
            p.reduce(&xs, &ys, 0.0, 64.0, 2),
            oracle(&xs, &ys, 0.0, 64.0, 2)
        );
        let all_nan = vec![f64::NAN; 100];
        let xs: Vec<f64> = (0..100).map(f64::from).collect();
        let p = Pyramid::new(&xs, &all_nan);
        assert_eq!(
            p.reduce(&xs, &all_nan, 0.0, 100.0, 3),
            oracle(&xs, &all_nan, 0.0, 100.0, 3)
        );
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let p = Pyramid::new(&[], &[]);
        assert!(p.is_empty());
        assert!(p.reduce(&[], &[], 0.0, 1.0, 10).is_empty());
        let p = Pyramid::new(&[1.0], &[5.0]);
        assert_eq!(p.reduce(&[1.0], &[5.0], 0.0, 1.0, 0), vec![0]);
        // All equal values, all at one x, an empty or reversed range.
        let ys = vec![2.0; 1000];
        let xs = vec![3.0; 1000];
        let p = Pyramid::new(&xs, &ys);
        for (x0, x1) in [
            (3.0, 3.0),
            (4.0, 2.0),
            (0.0, 10.0),
            (5.0, 6.0),
            (f64::NAN, 1.0),
        ] {
            assert_eq!(p.reduce(&xs, &ys, x0, x1, 10), oracle(&xs, &ys, x0, x1, 10));
        }
        // Values of another length than the pyramid's: walked point by point, same answer.
        let xs: Vec<f64> = (0..1000).map(f64::from).collect();
        let short = Pyramid::new(&xs[..10], &ys[..10]);
        assert_eq!(
            short.reduce(&xs, &ys, 0.0, 999.0, 5),
            oracle(&xs, &ys, 0.0, 999.0, 5)
        );
    }

    #[test]
    fn the_subpixel_reduction_keeps_every_column_extreme_within_a_column() {
        let mut rng = Rng(7);
        for case in 0..40 {
            let n = 20_000 + rng.below(200_000) as usize;
            let xs: Vec<f64> = (0..n).map(|i| i as f64 + 0.5 * rng.unit()).collect();
            let ys: Vec<f64> = (0..n)
                .map(|i| {
                    if rng.below(5000) == 0 {
                        1e6
                    } else {
                        (i as f64 * 0.01).sin()
                    }
                })
                .collect();
            let p = Pyramid::new(&xs, &ys);
            let buckets = 50 + rng.below(500) as usize;
            let (x0, x1) = if case % 2 == 0 {
                (xs[0], xs[n - 1])
            } else {
                let a = rng.below(n as u64 / 2) as f64;
                (a, a + (n as f64 / 3.0))
            };
            let exact = p.reduce(&xs, &ys, x0, x1, buckets);
            let fast = p.reduce_subpixel(&xs, &ys, x0, x1, buckets);
            assert!(fast.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
            assert!(fast.len() <= 4 * buckets + 4);
            // Range edges are exact.
            assert_eq!(fast.first(), exact.first());
            assert_eq!(fast.last(), exact.last());
            // Each column's highest and lowest value is reached by the kept points of that
            // column or a neighbour (nodes across an edge count in one of the two).
            let scale = buckets as f64 / (x1 - x0);
            let col = |i: usize| ((xs[i] - x0) * scale).floor() as i64;
            let extremes = |kept: &[usize]| {
                let mut m: std::collections::BTreeMap<i64, (f64, f64)> = Default::default();
                for &i in kept.iter().filter(|&&i| xs[i] >= x0 && xs[i] <= x1) {
                    let e = m
                        .entry(col(i))
                        .or_insert((f64::INFINITY, f64::NEG_INFINITY));
                    e.0 = e.0.min(ys[i]);
                    e.1 = e.1.max(ys[i]);
                }
                m
            };
            let want = extremes(&exact);
            let got = extremes(&fast);
            for (c, (lo, hi)) in &want {
                let near = (c - 1..=c + 1).filter_map(|k| got.get(&k));
                let (glo, ghi) = near.fold((f64::INFINITY, f64::NEG_INFINITY), |a, e| {
                    (a.0.min(e.0), a.1.max(e.1))
                });
                assert!(glo <= *lo && ghi >= *hi, "case {case}, column {c}");
            }
        }
    }

    #[test]
    fn random_curves_and_ranges_match_the_brute_force_reduction() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..300 {
            let n = r.below(6000) as usize + 1;
            // Non-decreasing x with repeats and gaps (wall time with pauses).
            let mut x = r.unit() * 100.0 - 50.0;
            let xs: Vec<f64> = (0..n)
                .map(|_| {
                    x += match r.below(10) {
                        0 => 0.0,
                        1 => r.unit() * 500.0,
                        _ => r.unit(),
                    };
                    x
                })
                .collect();
            let ys: Vec<f64> = (0..n)
                .map(|_| match r.below(50) {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    2 => f64::NEG_INFINITY,
                    3 => 7.0,
                    _ => r.unit() * 100.0,
                })
                .collect();
            let p = Pyramid::new(&xs, &ys);
            let span = xs[n - 1] - xs[0] + 1.0;
            for _ in 0..5 {
                let a = xs[0] - 5.0 + r.unit() * span;
                let b = a + r.unit() * span;
                let buckets = r.below(400) as usize + 1;
                assert_eq!(
                    p.reduce(&xs, &ys, a, b, buckets),
                    oracle(&xs, &ys, a, b, buckets),
                    "case {case}: n {n}, {a}..{b} @ {buckets}"
                );
            }
        }
    }
}
