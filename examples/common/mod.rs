//! A small deterministic "random forest" regressor on a synthetic housing dataset, so the
//! examples log real numbers without Python. Bagged regression trees with a seeded generator.

/// Deterministic 64-bit generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Features: rooms, age, distance to centre, median income. Target: price in $100k.
pub struct Housing {
    pub x: Vec<[f64; 4]>,
    pub y: Vec<f64>,
}

pub fn housing(n: usize, seed: u64) -> Housing {
    let mut rng = Rng::new(seed);
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let rooms = 2.0 + 6.0 * rng.uniform();
        let age = 60.0 * rng.uniform();
        let distance = 1.0 + 20.0 * rng.uniform();
        let income = 1.0 + 9.0 * rng.uniform();
        let noise = (rng.uniform() - 0.5) * 0.6;
        let price = 0.4 * rooms + 0.35 * income - 0.08 * distance
            + if age < 15.0 { 0.5 } else { 0.0 }
            + 0.6 * (income / 3.0).sin()
            + noise;
        x.push([rooms, age, distance, income]);
        y.push(price);
    }
    Housing { x, y }
}

enum Node {
    Leaf(f64),
    Split {
        feature: usize,
        threshold: f64,
        left: Box<Node>,
        right: Box<Node>,
    },
}

fn mean(idx: &[usize], y: &[f64]) -> f64 {
    idx.iter().map(|&i| y[i]).sum::<f64>() / idx.len() as f64
}

fn grow(
    x: &[[f64; 4]],
    y: &[f64],
    idx: Vec<usize>,
    depth: usize,
    max_depth: usize,
    rng: &mut Rng,
) -> Node {
    if depth >= max_depth || idx.len() < 4 {
        return Node::Leaf(mean(&idx, y));
    }
    // Random feature subset of size 2 at each split, as a random forest does.
    let f1 = rng.below(4);
    let f2 = (f1 + 1 + rng.below(3)) % 4;
    let mut best: Option<(f64, usize, f64)> = None;
    for feature in [f1, f2] {
        let mut order = idx.clone();
        order.sort_by(|&a, &b| x[a][feature].total_cmp(&x[b][feature]));
        let total: f64 = order.iter().map(|&i| y[i]).sum();
        let total_sq: f64 = order.iter().map(|&i| y[i] * y[i]).sum();
        let (mut left_sum, mut left_sq) = (0.0, 0.0);
        for k in 1..order.len() {
            let v = y[order[k - 1]];
            left_sum += v;
            left_sq += v * v;
            if x[order[k - 1]][feature] == x[order[k]][feature] {
                continue;
            }
            let nl = k as f64;
            let nr = (order.len() - k) as f64;
            let sse = (left_sq - left_sum * left_sum / nl)
                + ((total_sq - left_sq) - (total - left_sum).powi(2) / nr);
            if best.is_none_or(|(b, _, _)| sse < b) {
                let threshold = (x[order[k - 1]][feature] + x[order[k]][feature]) / 2.0;
                best = Some((sse, feature, threshold));
            }
        }
    }
    let Some((_, feature, threshold)) = best else {
        return Node::Leaf(mean(&idx, y));
    };
    let (l, r): (Vec<usize>, Vec<usize>) = idx.iter().partition(|&&i| x[i][feature] <= threshold);
    Node::Split {
        feature,
        threshold,
        left: Box::new(grow(x, y, l, depth + 1, max_depth, rng)),
        right: Box::new(grow(x, y, r, depth + 1, max_depth, rng)),
    }
}

fn predict_tree(node: &Node, row: &[f64; 4]) -> f64 {
    match node {
        Node::Leaf(v) => *v,
        Node::Split {
            feature,
            threshold,
            left,
            right,
        } => {
            if row[*feature] <= *threshold {
                predict_tree(left, row)
            } else {
                predict_tree(right, row)
            }
        }
    }
}

/// Bagged regression trees.
pub struct Forest {
    trees: Vec<Node>,
}

impl Forest {
    pub fn fit(
        x: &[[f64; 4]],
        y: &[f64],
        n_estimators: usize,
        max_depth: usize,
        seed: u64,
    ) -> Forest {
        let mut rng = Rng::new(seed);
        let trees = (0..n_estimators)
            .map(|_| {
                let sample: Vec<usize> = (0..x.len()).map(|_| rng.below(x.len())).collect();
                grow(x, y, sample, 0, max_depth, &mut rng)
            })
            .collect();
        Forest { trees }
    }

    pub fn predict(&self, row: &[f64; 4]) -> f64 {
        self.trees.iter().map(|t| predict_tree(t, row)).sum::<f64>() / self.trees.len() as f64
    }
}

/// Trains on the first 300 houses, returns the mean squared error on the other 100.
pub fn train_and_score(n_estimators: usize, max_depth: usize) -> f64 {
    let data = housing(400, 42);
    let (train_x, test_x) = data.x.split_at(300);
    let (train_y, test_y) = data.y.split_at(300);
    let forest = Forest::fit(train_x, train_y, n_estimators, max_depth, 7);
    test_x
        .iter()
        .zip(test_y)
        .map(|(row, y)| (forest.predict(row) - y).powi(2))
        .sum::<f64>()
        / test_y.len() as f64
}
