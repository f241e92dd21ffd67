//! DIST, float64. Mirrors `dist_rows.wgsl`, `dist_columns.wgsl`, `dist_merge.wgsl`,
//! `dist_grad.wgsl` and `finish.wgsl`, but computes column statistics directly (two passes).

use crate::losses::dist::DistParams;
use crate::reference::numerics::softmax_row;

/// Pearson correlation of `a` and `b` with the eps added to the product of the norms, and its
/// gradient with respect to `a`: `P(v/N − s‖v‖u/(‖u‖N²))`.
pub fn pearson_with_grad(a: &[f64], b: &[f64]) -> (f64, Vec<f64>) {
    let n = a.len() as f64;
    let mean_a = a.iter().sum::<f64>() / n;
    let mean_b = b.iter().sum::<f64>() / n;
    let u: Vec<f64> = a.iter().map(|x| x - mean_a).collect();
    let v: Vec<f64> = b.iter().map(|x| x - mean_b).collect();
    let s: f64 = u.iter().zip(&v).map(|(x, y)| x * y).sum();
    let norm_u = u.iter().map(|x| x * x).sum::<f64>().sqrt();
    let norm_v = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let big_n = norm_u * norm_v + 1e-8;
    let k = if norm_u > 0.0 {
        s * norm_v / (norm_u * big_n * big_n)
    } else {
        0.0
    };
    let g: Vec<f64> = u
        .iter()
        .zip(&v)
        .map(|(ui, vi)| vi / big_n - k * ui)
        .collect();
    let mean_g = g.iter().sum::<f64>() / n;
    (s / big_n, g.iter().map(|x| x - mean_g).collect())
}

/// `L = T² (β·inter + γ·intra)`; returns `(L, ∂L/∂zs)`.
pub fn dist(
    student: &[f64],
    teacher: &[f64],
    rows: usize,
    cols: usize,
    p: &DistParams,
) -> (f64, Vec<f64>) {
    let t = p.temperature;
    let (b, c) = (rows as f64, cols as f64);
    let mut ys = vec![0.0; rows * cols];
    let mut yt = vec![0.0; rows * cols];
    for r in 0..rows {
        let span = r * cols..(r + 1) * cols;
        ys[span.clone()].copy_from_slice(&softmax_row(&student[span.clone()], t).0);
        yt[span.clone()].copy_from_slice(&softmax_row(&teacher[span.clone()], t).0);
    }
    // G = ∂L/∂ys.
    let mut g = vec![0.0; rows * cols];
    let mut inter = 0.0;
    for r in 0..rows {
        let span = r * cols..(r + 1) * cols;
        let (rho, d) = pearson_with_grad(&ys[span.clone()], &yt[span.clone()]);
        inter += rho;
        for (k, dk) in d.iter().enumerate() {
            g[span.start + k] += -t * t * p.beta / b * dk;
        }
    }
    let mut intra = 0.0;
    for col in 0..cols {
        let a: Vec<f64> = (0..rows).map(|r| ys[r * cols + col]).collect();
        let bb: Vec<f64> = (0..rows).map(|r| yt[r * cols + col]).collect();
        let (rho, d) = pearson_with_grad(&a, &bb);
        intra += rho;
        for (r, dr) in d.iter().enumerate() {
            g[r * cols + col] += -t * t * p.gamma / c * dr;
        }
    }
    let loss = t * t * (p.beta * (1.0 - inter / b) + p.gamma * (1.0 - intra / c));
    // Back through the softmax: (1/T) ys ⊙ (G − ⟨G, ys⟩).
    let mut grad = vec![0.0; rows * cols];
    for r in 0..rows {
        let span = r * cols..(r + 1) * cols;
        let dot: f64 = span.clone().map(|i| g[i] * ys[i]).sum();
        for i in span {
            grad[i] = ys[i] * (g[i] - dot) / t;
        }
    }
    (loss, grad)
}
