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

/// Test helpers shared by the float64 twins' finite-difference tests.
#[cfg(test)]
pub(crate) mod testing {
    /// A student and a teacher of `rows × cols` logits, fixed and unequal, of size about 2.
    pub(crate) fn logit_pair(rows: usize, cols: usize) -> (Vec<f64>, Vec<f64>) {
        let n = rows * cols;
        let student = (0..n).map(|i| ((i * 5) % 13) as f64 * 0.4 - 2.0).collect();
        let teacher = (0..n).map(|i| ((i * 3) % 11) as f64 * 0.7 - 3.0).collect();
        (student, teacher)
    }

    /// `grad` against central differences (step 1e-6) of `loss` at `x`, within `tol`.
    pub(crate) fn assert_finite_differences(
        loss: impl Fn(&[f64]) -> f64,
        x: &[f64],
        grad: &[f64],
        tol: f64,
    ) {
        for i in 0..x.len() {
            let (mut up, mut down) = (x.to_vec(), x.to_vec());
            up[i] += 1e-6;
            down[i] -= 1e-6;
            let fd = (loss(&up) - loss(&down)) / 2e-6;
            assert!((fd - grad[i]).abs() < tol, "{i}: {fd} vs {}", grad[i]);
        }
    }
}
