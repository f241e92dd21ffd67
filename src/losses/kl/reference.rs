//! KL with temperature, float64. Mirrors `kl.wgsl` + `shaders/finish.wgsl`.

use crate::reference::numerics::softmax_row;

/// `L = T²/B · Σ_b Σ_c p (log p − log q)`, `∂L/∂zs = (T/B)(q − p)`; returns `(L, ∂L/∂zs)`.
pub fn kl(student: &[f64], teacher: &[f64], rows: usize, cols: usize, t: f64) -> (f64, Vec<f64>) {
    let b = rows as f64;
    let mut loss = 0.0;
    let mut grad = vec![0.0; rows * cols];
    for r in 0..rows {
        let span = r * cols..(r + 1) * cols;
        let (q, log_q) = softmax_row(&student[span.clone()], t);
        let (p, log_p) = softmax_row(&teacher[span.clone()], t);
        for c in 0..cols {
            if p[c] != 0.0 {
                loss += p[c] * (log_p[c] - log_q[c]);
            }
            grad[span.start + c] = t / b * (q[c] - p[c]);
        }
    }
    (t * t / b * loss, grad)
}
