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
            if p[c] > 0.0 {
                loss += p[c] * (log_p[c] - log_q[c]);
            }
            grad[span.start + c] = t / b * (q[c] - p[c]);
        }
    }
    (t * t / b * loss, grad)
}

/// CTKD's `∂L/∂T` of kl with `options` (SPEC "CTKD"): per valid row, on the logits the soft
/// term sees (z-scored with `standardize`), `2T·KL(p‖q) − Cov_p(zt, zt − zs)/T + E_p[zs] −
/// E_q[zs]`, summed and scaled by `w_soft/n` as the loss is. Logits held fixed.
pub fn grad_temperature(
    student: &[f64],
    teacher: &[f64],
    dims: &[usize],
    t: f64,
    options: &crate::losses::options::TokenOptions,
    labels: Option<&[i64]>,
) -> crate::error::Result<f64> {
    use crate::losses::standardize::reference::standardize_rows;
    use crate::losses::token::reference::RowMask;
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
        let kl = expect(&p, &|c| if p[c] > 0.0 { log_p[c] - log_q[c] } else { 0.0 });
        let mean_t = expect(&p, &|c| te[c]);
        let mean_gap = expect(&p, &|c| te[c] - s[c]);
        let cov = expect(&p, &|c| (te[c] - mean_t) * (te[c] - s[c] - mean_gap));
        total += 2.0 * t * kl - cov / t + expect(&p, &|c| s[c]) - expect(&q, &|c| s[c]);
    }
    Ok(options.soft_weight * total / mask.n)
}
