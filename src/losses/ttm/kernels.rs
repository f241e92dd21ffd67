//! The ttm kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// Declarations shared by the TTM kernels.
pub const TTM_LIB: &str = include_str!("ttm_common.wgsl");

/// TTM / WTTM per-row terms and gradient.
pub const TTM_ROWS: Kernel = Kernel {
    file: "src/losses/ttm/ttm.wgsl",
    source: include_str!("ttm.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: TTM_LIB,
    variant: "",
    entry: "ttm_rows",
    bindings: &[U, R, R, W, W],
};

/// TTM / WTTM per-row terms and gradient, four classes per load.
pub const TTM_ROWS_QUADS: Kernel = Kernel {
    file: "src/losses/ttm/ttm_quads.wgsl",
    source: include_str!("ttm_quads.wgsl"),
    quads: true,
    entry: "ttm_rows_quads",
    ..TTM_ROWS
};

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[TTM_ROWS, TTM_ROWS_QUADS];
