//! The mlkd kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// MLKD's declarations.
pub const MLKD_LIB: &str = include_str!("mlkd_common.wgsl");

/// MLKD's declarations, LS's row moments and the row function (the row pass; its kernel files
/// supply the slot access), after the row function's `LS_ROWS`.
macro_rules! rows_lib {
    ($ls:literal) => {
        concat!(
            "const LS_ROWS: bool = ",
            $ls,
            ";\n",
            include_str!("mlkd_common.wgsl"),
            "\n",
            include_str!("../standardize/standardize.wgsl"),
            "\n",
            include_str!("mlkd_row.wgsl")
        )
    };
}

/// The row pass without LS: the instance term at every temperature, its gradient, the
/// softmaxes' statistics; one-class loads.
pub const MLKD_ROWS: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_rows.wgsl",
    source: include_str!("mlkd_rows.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: rows_lib!("false"),
    variant: "",
    entry: "mlkd_rows",
    bindings: &[U, R, R, W, W, W],
};

/// The row pass without LS, four consecutive classes per load and store.
pub const MLKD_ROWS_QUADS: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_rows_quads.wgsl",
    source: include_str!("mlkd_rows_quads.wgsl"),
    quads: true,
    entry: "mlkd_rows_quads",
    ..MLKD_ROWS
};

/// The row pass with LS on the instance term, one-class loads.
pub const MLKD_LS_ROWS: Kernel = Kernel {
    family: rows_lib!("true"),
    variant: "ls",
    ..MLKD_ROWS
};

/// The row pass with LS, quads.
pub const MLKD_LS_ROWS_QUADS: Kernel = Kernel {
    family: rows_lib!("true"),
    variant: "ls",
    ..MLKD_ROWS_QUADS
};

/// One temperature's raw softmaxes from the row statistics, one invocation per element.
pub const MLKD_PROBS: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_probs.wgsl",
    source: include_str!("mlkd_probs.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: MLKD_LIB,
    variant: "",
    entry: "mlkd_probs",
    bindings: &[U, R, R, R, W],
};

/// A correlation Gram (class or batch) at one temperature, tiled, with its tiles' Σ D².
pub const MLKD_GRAM: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_gram.wgsl",
    source: include_str!("mlkd_gram.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: MLKD_LIB,
    variant: "",
    entry: "mlkd_gram",
    bindings: &[U, R, W, W],
};

/// The correlation terms' ∂L/∂Ps at one temperature, one invocation per element.
pub const MLKD_CORR_SLOPES: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_corr_slopes.wgsl",
    source: include_str!("mlkd_corr_slopes.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: MLKD_LIB,
    variant: "",
    entry: "mlkd_corr_slopes",
    bindings: &[U, R, R, R, W],
};

/// The slopes through the softmax, added to the gradient, per row.
pub const MLKD_CORR_GRAD: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_corr_grad.wgsl",
    source: include_str!("mlkd_corr_grad.wgsl"),
    entry: "mlkd_corr_grad",
    bindings: &[U, R, R, W],
    ..MLKD_CORR_SLOPES
};

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[
    MLKD_ROWS,
    MLKD_ROWS_QUADS,
    MLKD_LS_ROWS,
    MLKD_LS_ROWS_QUADS,
    MLKD_PROBS,
    MLKD_GRAM,
    MLKD_CORR_SLOPES,
    MLKD_CORR_GRAD,
];
