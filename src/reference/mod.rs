//! The float64 CPU twin of every loss: the definitions of `SPEC.md`, written plainly to be read
//! beside the shaders. Used by the tests, by the command line's `--backend cpu`, and as the
//! value the self-check compares the GPU against.

pub mod dist;
pub mod kl;

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
    let shape = inputs.check(spec)?;
    let student: Vec<f64> = inputs.student.iter().map(|&x| f64::from(x)).collect();
    let teacher: Vec<f64> = inputs.teacher.iter().map(|&x| f64::from(x)).collect();
    let (rows, cols) = (shape.rows, shape.cols);
    let (loss, grad) = match spec {
        LossSpec::Kl(p) => kl::kl(&student, &teacher, rows, cols, p.temperature),
        LossSpec::Dist(p) => dist::dist(&student, &teacher, rows, cols, p),
    };
    Ok(ReferenceOutput { loss, grad })
}

/// `softmax(row / t)` with the maximum subtracted; also returns the log-softmax.
pub fn softmax_row(row: &[f64], t: f64) -> (Vec<f64>, Vec<f64>) {
    let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x / t));
    let sum: f64 = row.iter().map(|&x| (x / t - max).exp()).sum();
    let lse = max + sum.ln();
    let log_p: Vec<f64> = row.iter().map(|&x| x / t - lse).collect();
    (log_p.iter().map(|l| l.exp()).collect(), log_p)
}
