//! LS, logit standardization (Sun et al., CVPR 2024; SPEC "LS"): an option of `kl`, `dkd`,
//! `ttm` and `mlkd`, not a loss of its own. Each row of both inputs is z-scored before the
//! loss, `ẑ = (z − mean) / (std + 1e-7)` with the unbiased std, and the gradient goes back
//! through it.
//!
//! On the GPU the z-score is never stored: softmax is shift-invariant, so a standardized row at
//! temperature T is the raw row at the row's own scale `1/((std + 1e-7)·T)`, and the kernels
//! take the row's moments in a first sweep (`standardize.wgsl`: per-lane Welford, merged over
//! the segment about the row mean). This file is the float64 twin both sides are held to.

pub mod reference;

/// `1e-7`, added to the std before dividing (the authors' `normalize`).
pub const STD_EPS: f64 = 1e-7;

/// LS needs two classes per row: the unbiased std of one value is undefined.
pub(crate) fn check_classes(cols: usize) -> crate::error::Result<()> {
    if cols < 2 {
        return Err(crate::error::Error::Shape(format!(
            "standardize needs at least 2 classes per row (the unbiased std of C = {cols} is undefined)"
        )));
    }
    Ok(())
}
