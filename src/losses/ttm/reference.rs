//! TTM and WTTM in float64 (SPEC "TTM and WTTM"): the teacher at power γ, renormalised
//! (`softmax(γ·zt)`), against the student at T = 1, each row weighted by `U = Σ_c p_t^γ` with
//! WTTM. Returns `(L, ∂L/∂zs)`.

use crate::reference::numerics::{lse_where, softmax_row};

pub fn ttm(
    student: &[f64],
    teacher: &[f64],
    rows: usize,
    cols: usize,
    gamma: f64,
    weighted: bool,
) -> (f64, Vec<f64>) {
    let b = rows as f64;
    let mut loss = 0.0;
    let mut grad = vec![0.0; rows * cols];
    for r in 0..rows {
        let (zs, zt) = (
            &student[r * cols..(r + 1) * cols],
            &teacher[r * cols..(r + 1) * cols],
        );
        let (q, log_q) = softmax_row(zs, 1.0);
        let (p, log_p) = softmax_row(zt, 1.0 / gamma);
        let weight = if weighted {
            (lse_where(zt, 1.0 / gamma, |_| true) - gamma * lse_where(zt, 1.0, |_| true)).exp()
        } else {
            1.0
        };
        let kl: f64 = (0..cols)
            .filter(|&c| p[c] > 0.0)
            .map(|c| p[c] * (log_p[c] - log_q[c]))
            .sum();
        loss += weight * kl / b;
        for c in 0..cols {
            grad[r * cols + c] = weight * (q[c] - p[c]) / b;
        }
    }
    (loss, grad)
}
