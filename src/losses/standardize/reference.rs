//! LS in float64: the z-score of each row and the gradient back through it.

use super::STD_EPS;
use crate::error::Result;

/// One row's moments: `mean`, the unbiased `std` (0 for a constant row) and `d = std + 1e-7`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowScale {
    pub mean: f64,
    pub std: f64,
    pub d: f64,
}

/// The z-scored rows of a `rows × cols` matrix and each row's moments. A constant row gives
/// ẑ = 0 (SPEC: its std is 0); C = 1 is an error (the unbiased std is undefined).
pub fn standardize_rows(x: &[f64], rows: usize, cols: usize) -> Result<(Vec<f64>, Vec<RowScale>)> {
    super::check_classes(cols)?;
    let mut out = vec![0.0; rows * cols];
    let mut scales = Vec::with_capacity(rows);
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let mean = row.iter().sum::<f64>() / cols as f64;
        let constant = row.iter().all(|&v| v == row[0]);
        let m2: f64 = row.iter().map(|&v| (v - mean) * (v - mean)).sum();
        let std = if constant {
            0.0
        } else {
            (m2 / (cols - 1) as f64).sqrt()
        };
        let d = std + STD_EPS;
        if !constant {
            for c in 0..cols {
                out[r * cols + c] = (row[c] - mean) / d;
            }
        }
        scales.push(RowScale { mean, std, d });
    }
    Ok((out, scales))
}

/// `∂L/∂z` from `g = ∂L/∂ẑ` (row by row, in place): `(P(g) − ẑ·d·⟨g, ẑ⟩/((C−1)·σ)) / d`,
/// `P(g) = g − mean(g)` (SPEC's form with `u = ẑ·d`); a constant row drops the second term.
pub fn back_through(grad: &mut [f64], z_hat: &[f64], scales: &[RowScale], cols: usize) {
    for (r, s) in scales.iter().enumerate() {
        let span = r * cols..(r + 1) * cols;
        let (g, zh) = (&mut grad[span.clone()], &z_hat[span]);
        let mean_g = g.iter().sum::<f64>() / cols as f64;
        let dot: f64 = g.iter().zip(zh).map(|(a, b)| a * b).sum();
        let k = if s.std > 0.0 {
            s.d * dot / ((cols - 1) as f64 * s.std)
        } else {
            0.0
        };
        for (gc, &z) in g.iter_mut().zip(zh) {
            *gc = (*gc - mean_g - z * k) / s.d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chain rule against central differences of `L(ẑ(z)) = Σ w·ẑ²/2 + Σ v·ẑ`.
    #[test]
    fn back_through_matches_finite_differences() {
        let (rows, cols) = (2, 5);
        let z: Vec<f64> = (0..rows * cols)
            .map(|i| ((i * 7) % 11) as f64 * 0.3 - 1.0)
            .collect();
        let w: Vec<f64> = (0..rows * cols).map(|i| 0.1 * i as f64 - 0.4).collect();
        let loss = |z: &[f64]| -> f64 {
            let (zh, _) = standardize_rows(z, rows, cols).unwrap();
            zh.iter().zip(&w).map(|(a, b)| b * a + 0.5 * a * a).sum()
        };
        let (zh, scales) = standardize_rows(&z, rows, cols).unwrap();
        let mut g: Vec<f64> = zh.iter().zip(&w).map(|(a, b)| b + a).collect();
        back_through(&mut g, &zh, &scales, cols);
        for i in 0..rows * cols {
            let (mut up, mut down) = (z.clone(), z.clone());
            up[i] += 1e-6;
            down[i] -= 1e-6;
            let fd = (loss(&up) - loss(&down)) / 2e-6;
            assert!((fd - g[i]).abs() < 1e-6, "{i}: {fd} vs {}", g[i]);
        }
    }
}
