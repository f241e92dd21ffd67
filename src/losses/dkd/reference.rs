//! DKD (decoupled KD), float64. Mirrors `dkd.wgsl` + `shaders/finish.wgsl`.
//! Log-space TCKD: `log ps_g = z_g/T − LSE(z/T)`, `log ps_other = LSE_{c≠g}(z/T) − LSE(z/T)`.
//! With LS, of the z-scored rows and back through the z-score.

use crate::error::Result;
use crate::losses::standardize::reference::{back_through, standardize_rows};
use crate::reference::numerics::lse_where;

/// `p (log p − log q)`, 0 when `p = 0`.
fn kl_term(log_p: f64, log_q: f64) -> f64 {
    let p = log_p.exp();
    if p != 0.0 {
        p * (log_p - log_q)
    } else {
        0.0
    }
}

/// DKD of the z-scored rows (LS), the gradient back through the z-score; returns
/// `(L, ∂L/∂zs)`. C = 1 is an error. Labels must lie in `[0, cols)`.
pub fn dkd_standardized(
    student: &[f64],
    teacher: &[f64],
    labels: &[usize],
    (rows, cols): (usize, usize),
    t: f64,
    (alpha, beta): (f64, f64),
) -> Result<(f64, Vec<f64>)> {
    let (zs, scales) = standardize_rows(student, rows, cols)?;
    let (zt, _) = standardize_rows(teacher, rows, cols)?;
    let (loss, mut grad) = dkd(&zs, &zt, labels, rows, cols, t, alpha, beta);
    back_through(&mut grad, &zs, &scales, cols);
    Ok((loss, grad))
}

/// `L = α·TCKD + β·NCKD`; returns `(L, ∂L/∂zs)`. Labels must lie in `[0, cols)`.
#[allow(clippy::too_many_arguments)]
pub fn dkd(
    student: &[f64],
    teacher: &[f64],
    labels: &[usize],
    rows: usize,
    cols: usize,
    t: f64,
    alpha: f64,
    beta: f64,
) -> (f64, Vec<f64>) {
    let b = rows as f64;
    let mut loss = 0.0;
    let mut grad = vec![0.0; rows * cols];
    for r in 0..rows {
        let g = labels[r];
        let zs = &student[r * cols..(r + 1) * cols];
        let zt = &teacher[r * cols..(r + 1) * cols];
        let (lse_s, lse_t) = (lse_where(zs, t, |_| true), lse_where(zt, t, |_| true));
        let (nse_s, nse_t) = (lse_where(zs, t, |c| c != g), lse_where(zt, t, |c| c != g));
        let log_ps_g = zs[g] / t - lse_s;
        let log_pt_g = zt[g] / t - lse_t;
        let (log_ps_o, log_pt_o) = (nse_s - lse_s, nse_t - lse_t);
        let tckd = kl_term(log_pt_g, log_ps_g) + kl_term(log_pt_o, log_ps_o);
        let mut nckd = 0.0;
        let (ps_g, pt_g) = (log_ps_g.exp(), log_pt_g.exp());
        for c in (0..cols).filter(|&c| c != g) {
            let log_hs = zs[c] / t - nse_s;
            let log_ht = zt[c] / t - nse_t;
            nckd += kl_term(log_ht, log_hs);
            grad[r * cols + c] = alpha * (-(t / b) * (ps_g - pt_g) * log_hs.exp())
                + beta * (t / b) * (log_hs.exp() - log_ht.exp());
        }
        grad[r * cols + g] = alpha * (t / b) * (ps_g - pt_g);
        loss += alpha * tckd + beta * nckd;
    }
    (t * t / b * loss, grad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::numerics::testing::{assert_finite_differences, logit_pair};

    /// DKD with and without LS against central differences of the float64 loss.
    #[test]
    fn gradient_matches_finite_differences() {
        let (rows, cols) = (3, 6);
        let (zs, zt) = logit_pair(rows, cols);
        let labels = [1, 0, 5];
        for standardize in [true, false] {
            let run = |z: &[f64]| {
                if standardize {
                    dkd_standardized(z, &zt, &labels, (rows, cols), 2.0, (1.0, 8.0)).unwrap()
                } else {
                    dkd(z, &zt, &labels, rows, cols, 2.0, 1.0, 8.0)
                }
            };
            assert_finite_differences(|z| run(z).0, &zs, &run(&zs).1, 1e-7);
        }
    }
}
