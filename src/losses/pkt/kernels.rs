//! The pkt kernels' entries in the shader table; `KERNELS` lists them (with the shared Gram
//! kernels) for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;
use crate::losses::batch_gram::kernels::{BATCH_GRAM, BATCH_GRAM_GRAD, BATCH_GRAM_SUM, GRAM_LIB};

/// PKT's row losses and ∂L/∂S.
pub const PKT_ROWS: Kernel = Kernel {
    file: "src/losses/pkt/pkt.wgsl",
    source: include_str!("pkt.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: GRAM_LIB,
    variant: "",
    entry: "pkt_rows",
    bindings: &[U, R, R, W, W],
};

/// PKT's gradient coefficients (the cosine's chain rule).
pub const PKT_COEFFICIENTS: Kernel = Kernel {
    file: "src/losses/pkt/pkt_coefficients.wgsl",
    source: include_str!("pkt_coefficients.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: GRAM_LIB,
    variant: "",
    entry: "pkt_coefficients",
    bindings: &[U, R, R, W],
};

/// Every kernel PKT dispatches.
pub const KERNELS: &[Kernel] = &[
    BATCH_GRAM,
    BATCH_GRAM_SUM,
    PKT_ROWS,
    PKT_COEFFICIENTS,
    BATCH_GRAM_GRAD,
];
