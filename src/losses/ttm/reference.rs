//! TTM and WTTM in float64 (SPEC "TTM and WTTM"): the teacher at power γ, renormalised
//! (`softmax(γ·zt)`), against the student at T = 1, each row weighted by `U = Σ_c p_t^γ` with
//! WTTM; with `standardize` (LS) of the z-scored rows, the gradient back through the z-score.
//! Returns `(L, ∂L/∂zs)`.

use crate::error::Result;
use crate::losses::standardize::reference::{back_through, standardize_rows};
use crate::reference::numerics::{lse_where, softmax_row};

/// TTM / WTTM of the z-scored rows (LS; `U` from the standardized teacher), the gradient
/// back through the z-score. C = 1 is an error.
pub fn ttm_standardized(
    student: &[f64],
    teacher: &[f64],
    (rows, cols): (usize, usize),
    gamma: f64,
    weighted: bool,
) -> Result<(f64, Vec<f64>)> {
    let (zs, scales) = standardize_rows(student, rows, cols)?;
    let (zt, _) = standardize_rows(teacher, rows, cols)?;
    let (loss, mut grad) = ttm(&zs, &zt, rows, cols, gamma, weighted);
    back_through(&mut grad, &zs, &scales, cols);
    Ok((loss, grad))
}

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
            .filter(|&c| p[c] != 0.0)
            .map(|c| p[c] * (log_p[c] - log_q[c]))
            .sum();
        loss += weight * kl / b;
        for c in 0..cols {
            grad[r * cols + c] = weight * (q[c] - p[c]) / b;
        }
    }
    (loss, grad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::numerics::testing::{assert_finite_differences, logit_pair};

    /// WTTM with LS, TTM with LS and plain WTTM against central differences of the float64
    /// loss.
    #[test]
    fn gradient_matches_finite_differences() {
        let (rows, cols) = (3, 7);
        let (zs, zt) = logit_pair(rows, cols);
        for (weighted, standardize) in [(true, true), (false, true), (true, false)] {
            let run = |z: &[f64]| {
                if standardize {
                    ttm_standardized(z, &zt, (rows, cols), 0.3, weighted).unwrap()
                } else {
                    ttm(z, &zt, rows, cols, 0.3, weighted)
                }
            };
            assert_finite_differences(|z| run(z).0, &zs, &run(&zs).1, 1e-7);
        }
    }
}
