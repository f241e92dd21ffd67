//! NKD in float64 (SPEC "NKD"): the target term weighted by the teacher's probability, and the
//! cross-entropy over the non-target classes (target removed exactly) at T, times γ·T².
//! Returns `(L, ∂L/∂zs)`.

use crate::reference::numerics::{lse_where, softmax_row};

pub fn nkd(
    student: &[f64],
    teacher: &[f64],
    labels: &[i64],
    rows: usize,
    cols: usize,
    t: f64,
    gamma: f64,
) -> (f64, Vec<f64>) {
    let b = rows as f64;
    let mut loss = 0.0;
    let mut grad = vec![0.0; rows * cols];
    for r in 0..rows {
        let (zs, zt) = (
            &student[r * cols..(r + 1) * cols],
            &teacher[r * cols..(r + 1) * cols],
        );
        let y = labels[r] as usize;
        let (q, log_q) = softmax_row(zs, 1.0);
        let (p, _) = softmax_row(zt, 1.0);
        let t_y = p[y];
        let mut row_loss = -t_y * log_q[y];
        let g = &mut grad[r * cols..(r + 1) * cols];
        for c in 0..cols {
            g[c] = t_y * (q[c] - if c == y { 1.0 } else { 0.0 });
        }
        if cols > 1 {
            let lse_s = lse_where(zs, t, |c| c != y);
            let lse_t = lse_where(zt, t, |c| c != y);
            let mut ce = 0.0;
            for c in (0..cols).filter(|&c| c != y) {
                let log_ps = zs[c] / t - lse_s;
                let pt = (zt[c] / t - lse_t).exp();
                if pt != 0.0 {
                    ce -= pt * log_ps;
                }
                g[c] += gamma * t * (log_ps.exp() - pt);
            }
            row_loss += gamma * t * t * ce;
        }
        loss += row_loss / b;
        for v in g.iter_mut() {
            *v /= b;
        }
    }
    (loss, grad)
}
