//! Gradient-boosted regression trees (least squares, histogram splits).
//!
//! linfa 0.8.1 has no regression tree (`linfa-trees` classifies: its labels must be hashable),
//! so the ensemble is written here against linfa's `Fit` and `PredictInplace` traits and
//! trained on the same linfa `Dataset` as the linear model. Features are cut into at most
//! [`BINS`] quantile bins once; each tree grows depth-first over per-node histograms.

use linfa::dataset::AsSingleTargets;
use linfa::prelude::*;
use ndarray_linfa::{Array1, Array2, ArrayBase, Data, Ix2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use eiq_datasets::SplitMix64;

const BINS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loss {
    Squared,
    Absolute,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbdtParams {
    pub loss: Loss,
    pub trees: usize,
    pub max_depth: usize,
    pub learning_rate: f64,
    pub min_leaf: usize,
    pub l2: f64,
    /// Share of rows each tree sees.
    pub subsample: f64,
    pub seed: u64,
}

impl Default for GbdtParams {
    fn default() -> Self {
        Self {
            loss: Loss::Absolute,
            trees: 400,
            max_depth: 5,
            learning_rate: 0.05,
            min_leaf: 20,
            l2: 1.0,
            subsample: 0.8,
            seed: 17,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GbdtError {
    #[error("cannot fit trees: {0}")]
    Invalid(String),
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
enum Node {
    Split { feature: u16, threshold: f64, left: u32, right: u32 },
    Leaf(f64),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn predict(&self, x: &[f64]) -> f64 {
        let mut at = 0;
        loop {
            match &self.nodes[at] {
                Node::Leaf(value) => return *value,
                Node::Split { feature, threshold, left, right } => {
                    at = if x[*feature as usize] <= *threshold { *left } else { *right } as usize
                }
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Gbdt {
    base: f64,
    trees: Vec<Tree>,
}

impl Gbdt {
    pub fn predict_one(&self, x: &[f64]) -> f64 {
        self.base + self.trees.iter().map(|t| t.predict(x)).sum::<f64>()
    }

    pub fn trees(&self) -> usize {
        self.trees.len()
    }

    /// The first `n` trees: early stopping picks `n` on a validation split.
    pub fn truncated(&self, n: usize) -> Self {
        Self { base: self.base, trees: self.trees[..n.min(self.trees.len())].to_vec() }
    }

    /// Validation loss after each tree, for early stopping.
    pub fn staged_loss(&self, loss: Loss, x: &Array2<f64>, y: &Array1<f64>) -> Vec<f64> {
        let mut predictions = vec![self.base; x.nrows()];
        self.trees
            .iter()
            .map(|tree| {
                predictions.iter_mut().enumerate().for_each(|(i, p)| *p += tree.predict(&row(x, i)));
                let error = |(p, t): (&f64, &f64)| match loss {
                    Loss::Squared => (p - t).powi(2),
                    Loss::Absolute => (p - t).abs(),
                };
                predictions.iter().zip(y).map(error).sum::<f64>() / y.len().max(1) as f64
            })
            .collect()
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for Gbdt {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        for (i, out) in y.iter_mut().enumerate() {
            *out = self.predict_one(&row(x, i));
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}

impl<D: Data<Elem = f64>, T: AsSingleTargets<Elem = f64>> Fit<ArrayBase<D, Ix2>, T, GbdtError> for GbdtParams {
    type Object = Gbdt;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<Gbdt, GbdtError> {
        let (x, y) = (dataset.records(), dataset.as_single_targets());
        if x.nrows() < 2 * self.min_leaf.max(1) || x.ncols() > u16::MAX as usize {
            return Err(GbdtError::Invalid(format!("{} rows is too few for leaves of {}", x.nrows(), self.min_leaf)));
        }
        let binned = Binned::new(x);
        let base = match self.loss {
            Loss::Squared => y.mean().unwrap_or(0.0),
            Loss::Absolute => median(&mut y.to_vec()),
        };
        let mut predictions = vec![base; x.nrows()];
        let mut rng = SplitMix64::new(self.seed);
        let mut trees = Vec::with_capacity(self.trees);
        for _ in 0..self.trees {
            let residuals: Vec<f64> = y.iter().zip(&predictions).map(|(t, p)| t - p).collect();
            // What splits follow: the residuals themselves, or only their signs.
            let gradients: Vec<f64> = match self.loss {
                Loss::Squared => residuals.clone(),
                Loss::Absolute => residuals.iter().map(|r| r.signum()).collect(),
            };
            let rows: Vec<u32> = (0..x.nrows() as u32).filter(|_| rng.uniform() < self.subsample).collect();
            let tree = self.grow(&binned, &gradients, &residuals, rows);
            for (i, p) in predictions.iter_mut().enumerate() {
                *p += tree.predict(&row(x, i));
            }
            trees.push(tree);
        }
        Ok(Gbdt { base, trees })
    }
}

/// Each column cut at its quantiles: `bins[column][row]`, and the cut values.
struct Binned {
    bins: Vec<Vec<u8>>,
    cuts: Vec<Vec<f64>>,
}

impl Binned {
    fn new<D: Data<Elem = f64>>(x: &ArrayBase<D, Ix2>) -> Self {
        let (bins, cuts) = x
            .columns()
            .into_iter()
            .map(|column| {
                let mut sorted: Vec<f64> = column.to_vec();
                sorted.sort_by(f64::total_cmp);
                let mut cuts: Vec<f64> = (1..BINS).map(|q| sorted[q * (sorted.len() - 1) / BINS]).collect();
                cuts.dedup();
                // A cut at the maximum separates nothing.
                cuts.retain(|c| *c < sorted[sorted.len() - 1]);
                let bins = column.iter().map(|v| cuts.partition_point(|c| c < v) as u8).collect();
                (bins, cuts)
            })
            .unzip();
        Self { bins, cuts }
    }
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let middle = values.len() / 2;
    *values.select_nth_unstable_by(middle, f64::total_cmp).1
}

/// Row `i` as a slice, copied only when the matrix is not row-major.
fn row<D: Data<Elem = f64>>(x: &ArrayBase<D, Ix2>, i: usize) -> std::borrow::Cow<'_, [f64]> {
    match x.row(i).to_slice() {
        Some(slice) => std::borrow::Cow::Borrowed(slice),
        None => std::borrow::Cow::Owned(x.row(i).to_vec()),
    }
}

struct Best {
    gain: f64,
    feature: usize,
    bin: usize,
}

impl GbdtParams {
    fn grow(&self, binned: &Binned, gradients: &[f64], residuals: &[f64], rows: Vec<u32>) -> Tree {
        let mut nodes = vec![Node::Leaf(0.0)];
        let mut stack = vec![(0usize, rows, 0usize)];
        while let Some((at, rows, depth)) = stack.pop() {
            let sum: f64 = rows.iter().map(|&r| gradients[r as usize]).sum();
            let value = match self.loss {
                Loss::Squared => sum / (rows.len() as f64 + self.l2),
                Loss::Absolute => median(&mut rows.iter().map(|&r| residuals[r as usize]).collect::<Vec<f64>>()),
            };
            nodes[at] = Node::Leaf(self.learning_rate * value);
            if depth == self.max_depth || rows.len() < 2 * self.min_leaf {
                continue;
            }
            let Some(best) = self.best_split(binned, gradients, &rows, sum) else { continue };
            let (left, right): (Vec<u32>, Vec<u32>) =
                rows.into_iter().partition(|&r| binned.bins[best.feature][r as usize] as usize <= best.bin);
            let (l, r) = (nodes.len(), nodes.len() + 1);
            nodes.push(Node::Leaf(0.0));
            nodes.push(Node::Leaf(0.0));
            nodes[at] = Node::Split {
                feature: best.feature as u16,
                threshold: binned.cuts[best.feature][best.bin],
                left: l as u32,
                right: r as u32,
            };
            stack.push((l, left, depth + 1));
            stack.push((r, right, depth + 1));
        }
        Tree { nodes }
    }

    fn best_split(&self, binned: &Binned, residuals: &[f64], rows: &[u32], sum: f64) -> Option<Best> {
        let n = rows.len() as f64;
        let parent = sum * sum / (n + self.l2);
        (0..binned.bins.len())
            .into_par_iter()
            .filter_map(|feature| {
                let cuts = binned.cuts[feature].len();
                if cuts == 0 {
                    return None;
                }
                let mut sums = [0.0f64; BINS];
                let mut counts = [0usize; BINS];
                let column = &binned.bins[feature];
                for &r in rows {
                    let b = column[r as usize] as usize;
                    sums[b] += residuals[r as usize];
                    counts[b] += 1;
                }
                let (mut left_sum, mut left_n) = (0.0, 0usize);
                let mut best: Option<Best> = None;
                for bin in 0..cuts {
                    left_sum += sums[bin];
                    left_n += counts[bin];
                    let right_n = rows.len() - left_n;
                    if left_n < self.min_leaf || right_n < self.min_leaf {
                        continue;
                    }
                    let right_sum = sum - left_sum;
                    let gain = left_sum * left_sum / (left_n as f64 + self.l2)
                        + right_sum * right_sum / (right_n as f64 + self.l2)
                        - parent;
                    if gain > best.as_ref().map_or(1e-12, |b| b.gain) {
                        best = Some(Best { gain, feature, bin });
                    }
                }
                best
            })
            .reduce_with(|a, b| if b.gain > a.gain || (b.gain == a.gain && b.feature < a.feature) { b } else { a })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_learn_an_interaction_a_line_cannot() {
        let mut rng = SplitMix64::new(3);
        let n = 4_000;
        let x = Array2::from_shape_fn((n, 3), |_| rng.uniform());
        // y = 1 where x0 > 0.5 and x1 > 0.5: an AND, plus a little noise; x2 is irrelevant.
        let y: Array1<f64> =
            x.rows().into_iter().map(|r| f64::from(r[0] > 0.5 && r[1] > 0.5) + 0.05 * (r[2] - 0.5)).collect();
        let data = Dataset::new(x.clone(), y.clone());
        for loss in [Loss::Squared, Loss::Absolute] {
            let model = GbdtParams { loss, trees: 300, ..Default::default() }.fit(&data).unwrap();
            let mse = (&model.predict(&x) - &y).mapv(|d| d * d).mean().unwrap();
            assert!(mse < 0.01, "{loss:?}: mse {mse}");
        }
        let model = GbdtParams { trees: 150, ..Default::default() }.fit(&data).unwrap();
        let staged = model.staged_loss(Loss::Absolute, &x, &y);
        assert!(staged.last().unwrap() < &staged[0]);
        assert_eq!(model.truncated(10).trees(), 10);
        // Deterministic for a seed.
        assert_eq!(GbdtParams { trees: 5, ..Default::default() }.fit(&data).unwrap(), model.truncated(5));
    }
}
