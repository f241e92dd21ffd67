//! The kl kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// Declarations shared by the KL kernels.
pub const KL_LIB: &str = include_str!("kl_common.wgsl");

/// KL per-row terms and gradient, four classes per load.
pub const KL_ROWS_QUADS: Kernel = Kernel {
    file: "src/losses/kl/kl_quads.wgsl",
    source: include_str!("kl_quads.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: true,
    family: KL_LIB,
    variant: "",
    entry: "kl_rows_quads",
    bindings: &[U, R, R, W, W],
};

/// KL per-row terms and gradient.
pub const KL_ROWS: Kernel = Kernel {
    file: "src/losses/kl/kl.wgsl",
    source: include_str!("kl.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: KL_LIB,
    variant: "",
    entry: "kl_rows",
    bindings: &[U, R, R, W, W],
};

/// KL, the cached variant (rows of at most 4 × TPR classes held in registers).
pub const KL_ROWS_CACHED: Kernel = Kernel {
    file: "src/losses/kl/kl.wgsl",
    source: include_str!("kl.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: KL_LIB,
    variant: "",
    entry: "kl_rows_cached",
    bindings: &[U, R, R, W, W],
};

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[KL_ROWS_QUADS, KL_ROWS, KL_ROWS_CACHED];
