//! The float64 CPU twin of every loss: the definitions of `SPEC.md`, written plainly to be read
//! beside the shaders. Used by the tests, by the command line's `--backend cpu`, and as the
//! value the self-check compares the GPU against.
//!
//! Each loss's twin lives in its folder, beside its shaders (`src/losses/<loss>/reference.rs`);
//! this module gathers them under one name and dispatches on [`LossSpec`].

pub use crate::losses::dist::reference as dist;
pub use crate::losses::dkd::reference as dkd;
pub use crate::losses::kl::reference as kl;
pub use crate::losses::rkd::reference as rkd;
pub use crate::losses::token::reference as token;

/// The feature losses' twins (FitNet, AT, ICKD, HCL), under their earlier common name.
pub mod features {
    pub use crate::losses::at::reference::{at, signed_pow};
    pub use crate::losses::fitnet::reference::fitnet;
    pub use crate::losses::hcl::reference::{hcl, pool_window};
    pub use crate::losses::ickd::reference::ickd;
}

use crate::error::Result;
use crate::losses::{Inputs, LossSpec};

/// Loss and gradient in float64.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceOutput {
    pub loss: f64,
    /// ∂L/∂student, in the student's shape.
    pub grad: Vec<f64>,
}

/// Evaluates `spec` on `inputs` in float64 (same checks as the GPU path).
pub fn evaluate(spec: &LossSpec, inputs: &Inputs<'_>) -> Result<ReferenceOutput> {
    inputs.check(spec)?;
    let student: Vec<f64> = inputs.student.iter().map(|&x| f64::from(x)).collect();
    let teacher: Vec<f64> = inputs.teacher.iter().map(|&x| f64::from(x)).collect();
    let (loss, grad) = spec.loss().reference(&student, &teacher, inputs)?;
    Ok(ReferenceOutput { loss, grad })
}

/// `w_soft·soft + w_hard·CE` for `dist` and `dkd` (every label in `[0, C)`, n = B); `soft`
/// itself when the weights leave it alone.
pub(crate) fn with_hard_term(
    soft: (f64, Vec<f64>),
    student: &[f64],
    inputs: &Inputs<'_>,
    w_soft: f64,
    w_hard: f64,
) -> Result<(f64, Vec<f64>)> {
    if w_hard == 0.0 && w_soft == 1.0 {
        return Ok(soft);
    }
    let hard = if w_hard == 0.0 {
        (0.0, vec![0.0; student.len()])
    } else {
        let (rows, cols) = (inputs.shape[0], inputs.shape[1]);
        token::hard_term_all_rows(student, rows, cols, inputs.labels.unwrap_or(&[]))?
    };
    token::blend(soft, hard, w_soft, w_hard)
}

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
