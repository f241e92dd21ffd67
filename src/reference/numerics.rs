//! Float64 numerics the twins share: the max-subtracted softmax and a masked log-sum-exp.

/// `softmax(row / t)` with the maximum subtracted; also returns the log-softmax.
pub fn softmax_row(row: &[f64], t: f64) -> (Vec<f64>, Vec<f64>) {
    let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x / t));
    let sum: f64 = row.iter().map(|&x| (x / t - max).exp()).sum();
    let lse = max + sum.ln();
    let log_p: Vec<f64> = row.iter().map(|&x| x / t - lse).collect();
    (log_p.iter().map(|l| l.exp()).collect(), log_p)
}

/// Log-sum-exp of `z/t` over the classes where `keep` is true (`-inf` over none).
pub(crate) fn lse_where(z: &[f64], t: f64, keep: impl Fn(usize) -> bool) -> f64 {
    let max = (0..z.len())
        .filter(|&c| keep(c))
        .fold(f64::NEG_INFINITY, |m, c| m.max(z[c] / t));
    if max == f64::NEG_INFINITY {
        return max;
    }
    let sum: f64 = (0..z.len())
        .filter(|&c| keep(c))
        .map(|c| (z[c] / t - max).exp())
        .sum();
    max + sum.ln()
}
