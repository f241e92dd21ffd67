//! CTKD's ∂L/∂T of `kl` in float64 (the twin of the per-row sum the token kernels add when
//! `temperature_grad` is set).

use crate::error::Result;
use crate::losses::options::TokenOptions;
use crate::losses::standardize::reference::standardize_rows;
use crate::losses::token::reference::RowMask;
use crate::reference::numerics::softmax_row;

/// CTKD's `∂L/∂T` of kl with `options` (SPEC "CTKD"): per valid row, on the logits the soft
/// term sees (z-scored with `standardize`), `2T·KL(p‖q) − Cov_p(zt, zt − zs)/T + E_p[zs] −
/// E_q[zs]`, summed and scaled by `w_soft/n` as the loss is. Logits held fixed.
pub fn grad_temperature(
    student: &[f64],
    teacher: &[f64],
    dims: &[usize],
    t: f64,
    options: &TokenOptions,
    labels: Option<&[i64]>,
) -> Result<f64> {
    let (rows, cols) = (dims[0], dims[1]);
    let mask = RowMask::new(rows, cols, labels, options.ignore_index, options.normalizer)?;
    let (zs, zt) = if options.standardize {
        (
            standardize_rows(student, rows, cols)?.0,
            standardize_rows(teacher, rows, cols)?.0,
        )
    } else {
        (student.to_vec(), teacher.to_vec())
    };
    let mut total = 0.0;
    for r in (0..rows).filter(|&r| mask.valid[r]) {
        let span = r * cols..(r + 1) * cols;
        let (s, te) = (&zs[span.clone()], &zt[span]);
        let (q, log_q) = softmax_row(s, t);
        let (p, log_p) = softmax_row(te, t);
        let expect =
            |w: &[f64], x: &dyn Fn(usize) -> f64| (0..cols).map(|c| w[c] * x(c)).sum::<f64>();
        let kl = expect(&p, &|c| {
            if p[c] != 0.0 {
                log_p[c] - log_q[c]
            } else {
                0.0
            }
        });
        let mean_t = expect(&p, &|c| te[c]);
        let mean_gap = expect(&p, &|c| te[c] - s[c]);
        let cov = expect(&p, &|c| (te[c] - mean_t) * (te[c] - s[c] - mean_gap));
        total += 2.0 * t * kl - cov / t + expect(&p, &|c| s[c]) - expect(&q, &|c| s[c]);
    }
    Ok(options.soft_weight * total / mask.n)
}
