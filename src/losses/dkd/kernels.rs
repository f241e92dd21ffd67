//! The dkd kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// DKD's declarations after `HARD_TERM` (the fused hard term on or off, equal to
/// `params.hard != 0`): compiled in, not read from the parameters, since llvmpipe evaluates a
/// branch on a uniform value inside the sweeps whether taken or not (the hard term's
/// exponentials for nothing).
/// `$more`: further WGSL appended (LS's row moments for the LS kernels).
macro_rules! dkd_lib {
    ($hard:literal $(, $more:expr)*) => {
        concat!(
            "const HARD_TERM: bool = ",
            $hard,
            ";\n",
            include_str!("dkd_common.wgsl")
            $(, "\n", $more)*
        )
    };
}

/// DKD's declarations as the kernels without the hard term take them.
pub const DKD_LIB: &str = dkd_lib!("false");

/// DKD's declarations and LS's row moments, with the hard term on or off.
macro_rules! dkd_ls_lib {
    ($hard:literal) => {
        dkd_lib!($hard, include_str!("../standardize/standardize.wgsl"))
    };
}

/// DKD per-row TCKD/NCKD terms and gradient, four classes per load; no hard term.
pub const DKD_ROWS_QUADS: Kernel = Kernel {
    file: "src/losses/dkd/dkd_quads.wgsl",
    source: include_str!("dkd_quads.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: true,
    family: dkd_lib!("false"),
    variant: "soft",
    entry: "dkd_rows_quads",
    bindings: &[U, R, R, R, W, W],
};

/// DKD per-row TCKD/NCKD terms and gradient, any C; no hard term.
pub const DKD_ROWS: Kernel = Kernel {
    file: "src/losses/dkd/dkd.wgsl",
    source: include_str!("dkd.wgsl"),
    quads: false,
    entry: "dkd_rows",
    ..DKD_ROWS_QUADS
};

/// DKD with LS (`standardize`): the z-scored rows' terms and the gradient back through the
/// z-score, any C; no hard term.
pub const DKD_LS_ROWS: Kernel = Kernel {
    file: "src/losses/dkd/dkd_ls.wgsl",
    source: include_str!("dkd_ls.wgsl"),
    family: dkd_ls_lib!("false"),
    entry: "dkd_ls_rows",
    ..DKD_ROWS
};

/// `kernel` (one of the three above) with the fused hard term.
const fn with_hard_term(kernel: Kernel, family: &'static str) -> Kernel {
    Kernel {
        family,
        variant: "hard",
        ..kernel
    }
}

/// The row kernels with the hard term.
pub const DKD_ROWS_QUADS_HARD: Kernel = with_hard_term(DKD_ROWS_QUADS, dkd_lib!("true"));
/// See [`DKD_ROWS_QUADS_HARD`].
pub const DKD_ROWS_HARD: Kernel = with_hard_term(DKD_ROWS, dkd_lib!("true"));
/// See [`DKD_ROWS_QUADS_HARD`].
pub const DKD_LS_ROWS_HARD: Kernel = with_hard_term(DKD_LS_ROWS, dkd_ls_lib!("true"));

/// The row kernel for LS on or off, quad loads or not, the hard term on or off.
pub fn row_kernel(standardize: bool, quads: bool, hard: bool) -> Kernel {
    match (standardize, quads, hard) {
        (true, _, false) => DKD_LS_ROWS,
        (true, _, true) => DKD_LS_ROWS_HARD,
        (false, true, false) => DKD_ROWS_QUADS,
        (false, true, true) => DKD_ROWS_QUADS_HARD,
        (false, false, false) => DKD_ROWS,
        (false, false, true) => DKD_ROWS_HARD,
    }
}

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[
    DKD_ROWS_QUADS,
    DKD_ROWS,
    DKD_LS_ROWS,
    DKD_ROWS_QUADS_HARD,
    DKD_ROWS_HARD,
    DKD_LS_ROWS_HARD,
];
