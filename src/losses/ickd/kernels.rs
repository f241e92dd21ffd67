//! The ickd kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// Declarations shared by the ICKD kernels.
pub const ICKD_LIB: &str = include_str!("ickd_common.wgsl");

/// ICKD channel Gram matrices.
pub const ICKD_GRAM: Kernel = Kernel {
    file: "src/losses/ickd/ickd.wgsl",
    source: include_str!("ickd.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: ICKD_LIB,
    variant: "",
    entry: "ickd_gram",
    bindings: &[U, R, R, W, W],
};

/// ICKD row normalisation, loss terms and dL/dG.
pub const ICKD_ROWS: Kernel = Kernel {
    file: "src/losses/ickd/ickd_rows.wgsl",
    source: include_str!("ickd_rows.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: ICKD_LIB,
    variant: "",
    entry: "ickd_rows",
    bindings: &[U, R, W, W],
};

/// ICKD gradient (R + Rᵀ) F.
pub const ICKD_GRAD: Kernel = Kernel {
    file: "src/losses/ickd/ickd_grad.wgsl",
    source: include_str!("ickd_grad.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: ICKD_LIB,
    variant: "",
    entry: "ickd_grad",
    bindings: &[U, R, R, W],
};

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[ICKD_GRAM, ICKD_ROWS, ICKD_GRAD];
