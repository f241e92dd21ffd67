//! The float64 CPU twin of every loss: the definitions of `SPEC.md`, written plainly to be read
//! beside the shaders. Used by the tests, by the command line's `--backend cpu`, and as the
//! value the self-check compares the GPU against.
//!
//! Each loss's twin lives in its folder, beside its shaders (`src/losses/<loss>/reference.rs`);
//! this module gathers them under one name and dispatches on [`LossSpec`].

pub mod numerics;

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
pub use numerics::softmax_row;

/// Loss and gradient in float64.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceOutput {
    pub loss: f64,
    /// ∂L/∂student, in the student's shape.
    pub grad: Vec<f64>,
    /// ∂L/∂T, for `kl` with `temperature_grad` (CTKD).
    pub grad_temperature: Option<f64>,
}

/// Evaluates `spec` on `inputs` in float64 (same checks as the GPU path).
pub fn evaluate(spec: &LossSpec, inputs: &Inputs<'_>) -> Result<ReferenceOutput> {
    inputs.check(spec)?;
    let student: Vec<f64> = inputs.student.iter().map(|&x| f64::from(x)).collect();
    let teacher: Vec<f64> = inputs.teacher.iter().map(|&x| f64::from(x)).collect();
    let (loss, grad) = spec.loss().reference(&student, &teacher, inputs)?;
    let grad_temperature = spec
        .loss()
        .reference_grad_temperature(&student, &teacher, inputs)?;
    Ok(ReferenceOutput {
        loss,
        grad,
        grad_temperature,
    })
}
