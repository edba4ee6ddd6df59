//! Sentence vectors from token vectors: the mean over real (unmasked) tokens, scaled to unit length.

use crate::{HiddenStates, TokenBatch};

/// One unit vector per row of `batch`, as sentence-transformers' mean pooling + `normalize`.
pub fn mean_pool_normalized(hidden: &HiddenStates, batch: &TokenBatch) -> Vec<Vec<f32>> {
    let width = hidden.hidden_size;
    (0..batch.size)
        .map(|row| {
            let mut sum = vec![0f32; width];
            let mut count = 0f32;
            for position in 0..batch.seq_len {
                if batch.mask[row * batch.seq_len + position] == 0 {
                    continue;
                }
                count += 1.0;
                let offset = (row * batch.seq_len + position) * width;
                for (acc, value) in sum.iter_mut().zip(&hidden.values[offset..offset + width]) {
                    *acc += value;
                }
            }
            // sentence-transformers clamps the token count at 1e-9 and the norm at 1e-12.
            let count = count.max(1e-9);
            sum.iter_mut().for_each(|v| *v /= count);
            let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            sum.iter_mut().for_each(|v| *v /= norm);
            sum
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_padding_and_returns_unit_vectors() {
        let batch = TokenBatch { size: 1, seq_len: 3, ids: vec![1, 2, 0], type_ids: vec![0; 3], mask: vec![1, 1, 0] };
        let hidden = HiddenStates { hidden_size: 2, values: vec![3.0, 0.0, 1.0, 4.0, 100.0, 100.0] };
        let pooled = mean_pool_normalized(&hidden, &batch);
        // mean of (3,0) and (1,4) = (2,2) -> unit (0.7071, 0.7071); the padded (100,100) is ignored.
        assert!((pooled[0][0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert!((pooled[0][1] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    }
}
