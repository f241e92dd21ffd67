//! The sp kernels' entries in the shader table; `KERNELS` lists them (with the shared Gram
//! kernels) for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;
use crate::losses::batch_gram::kernels::{BATCH_GRAM, BATCH_GRAM_GRAD, BATCH_GRAM_SUM, GRAM_LIB};

/// SP's row losses and ∂L/∂Gs.
pub const SP_ROWS: Kernel = Kernel {
    file: "src/losses/sp/sp.wgsl",
    source: include_str!("sp.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: GRAM_LIB,
    variant: "",
    entry: "sp_rows",
    bindings: &[U, R, R, W, W],
};

/// SP's gradient coefficients M + Mᵀ.
pub const SP_COEFFICIENTS: Kernel = Kernel {
    file: "src/losses/sp/sp_coefficients.wgsl",
    source: include_str!("sp_coefficients.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: GRAM_LIB,
    variant: "",
    entry: "sp_coefficients",
    bindings: &[U, R, W],
};

/// Every kernel SP dispatches.
pub const KERNELS: &[Kernel] = &[
    BATCH_GRAM,
    BATCH_GRAM_SUM,
    SP_ROWS,
    SP_COEFFICIENTS,
    BATCH_GRAM_GRAD,
];
