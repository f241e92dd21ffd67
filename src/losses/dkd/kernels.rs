//! The dkd kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// Declarations shared by the DKD kernels.
pub const DKD_LIB: &str = include_str!("dkd_common.wgsl");

/// DKD per-row TCKD/NCKD terms and gradient, four classes per load.
pub const DKD_ROWS_QUADS: Kernel = Kernel {
    file: "src/losses/dkd/dkd_quads.wgsl",
    source: include_str!("dkd_quads.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: true,
    family: DKD_LIB,
    variant: "",
    entry: "dkd_rows_quads",
    bindings: &[U, R, R, R, W, W],
};

/// DKD per-row TCKD/NCKD terms and gradient.
pub const DKD_ROWS: Kernel = Kernel {
    file: "src/losses/dkd/dkd.wgsl",
    source: include_str!("dkd.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: DKD_LIB,
    variant: "",
    entry: "dkd_rows",
    bindings: &[U, R, R, R, W, W],
};

/// DKD's declarations and LS's row moments.
pub const DKD_LS_LIB: &str = concat!(
    include_str!("dkd_common.wgsl"),
    "\n",
    include_str!("../standardize/standardize.wgsl")
);

/// DKD with LS (`standardize`): the z-scored rows' terms and the gradient back through the
/// z-score, any C.
pub const DKD_LS_ROWS: Kernel = Kernel {
    file: "src/losses/dkd/dkd_ls.wgsl",
    source: include_str!("dkd_ls.wgsl"),
    family: DKD_LS_LIB,
    entry: "dkd_ls_rows",
    ..DKD_ROWS
};

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[DKD_ROWS_QUADS, DKD_ROWS, DKD_LS_ROWS];
