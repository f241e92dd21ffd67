//! The nkd kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// Declarations shared by the NKD kernels.
pub const NKD_LIB: &str = include_str!("nkd_common.wgsl");

/// NKD per-row terms and gradient.
pub const NKD_ROWS: Kernel = Kernel {
    file: "src/losses/nkd/nkd.wgsl",
    source: include_str!("nkd.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: NKD_LIB,
    variant: "",
    entry: "nkd_rows",
    bindings: &[U, R, R, R, W, W],
};

/// NKD per-row terms and gradient, four classes per load.
pub const NKD_ROWS_QUADS: Kernel = Kernel {
    file: "src/losses/nkd/nkd_quads.wgsl",
    source: include_str!("nkd_quads.wgsl"),
    quads: true,
    entry: "nkd_rows_quads",
    ..NKD_ROWS
};

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[NKD_ROWS, NKD_ROWS_QUADS];
