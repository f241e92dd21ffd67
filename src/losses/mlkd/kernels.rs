//! The mlkd kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// MLKD's declarations.
pub const MLKD_LIB: &str = include_str!("mlkd_common.wgsl");

/// MLKD's declarations, LS's row moments and the row function (the row pass; its kernel files
/// supply the slot access), after the row function's constants: `LS_ROWS` (LS on or off) and
/// its temperature layout, `FIFTH_TEMPERATURE` (exactly five) and `HIGH_TEMPERATURES` (six to
/// eight). Compiled in, not read from the parameters: on lavapipe a branch on a uniform value
/// inside the sweeps cost as much as the fifth temperature's own work.
macro_rules! rows_lib {
    ($ls:literal, $fifth:literal, $high:literal) => {
        concat!(
            "const LS_ROWS: bool = ",
            $ls,
            ";\nconst FIFTH_TEMPERATURE: bool = ",
            $fifth,
            ";\nconst HIGH_TEMPERATURES: bool = ",
            $high,
            ";\n",
            include_str!("mlkd_common.wgsl"),
            "\n",
            include_str!("../standardize/standardize.wgsl"),
            "\n",
            include_str!("mlkd_row.wgsl")
        )
    };
}

/// The row pass in one slot form (`$base`), by LS (off, on) and by the temperatures (up to
/// four, five, six to eight).
macro_rules! row_variants {
    ($base:expr) => {
        [
            [
                Kernel {
                    family: rows_lib!("false", "false", "false"),
                    variant: "t4",
                    ..$base
                },
                Kernel {
                    family: rows_lib!("false", "true", "false"),
                    variant: "t5",
                    ..$base
                },
                Kernel {
                    family: rows_lib!("false", "false", "true"),
                    variant: "t8",
                    ..$base
                },
            ],
            [
                Kernel {
                    family: rows_lib!("true", "false", "false"),
                    variant: "ls-t4",
                    ..$base
                },
                Kernel {
                    family: rows_lib!("true", "true", "false"),
                    variant: "ls-t5",
                    ..$base
                },
                Kernel {
                    family: rows_lib!("true", "false", "true"),
                    variant: "ls-t8",
                    ..$base
                },
            ],
        ]
    };
}

/// The row pass, one-class loads: the instance term at every temperature, its gradient, the
/// softmaxes' statistics. (Its variants carry the family.)
const ROWS_STRIDED: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_rows.wgsl",
    source: include_str!("mlkd_rows.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: MLKD_LIB,
    variant: "",
    entry: "mlkd_rows",
    bindings: &[U, R, R, W, W, W],
};

/// The row pass, four consecutive classes per load and store.
const ROWS_QUADS: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_rows_quads.wgsl",
    source: include_str!("mlkd_rows_quads.wgsl"),
    quads: true,
    entry: "mlkd_rows_quads",
    ..ROWS_STRIDED
};

/// The row pass's variants, one-class slots: `[LS off, on][up to 4, 5, 6 to 8 temperatures]`.
pub const MLKD_ROWS: [[Kernel; 3]; 2] = row_variants!(ROWS_STRIDED);

/// The row pass's variants, quad slots, indexed as [`MLKD_ROWS`].
pub const MLKD_ROWS_QUADS: [[Kernel; 3]; 2] = row_variants!(ROWS_QUADS);

/// The row pass for LS on or off, quad slots or not, and `temperatures` (1 to 8).
pub fn row_kernel(standardize: bool, quads: bool, temperatures: usize) -> Kernel {
    let table = if quads { &MLKD_ROWS_QUADS } else { &MLKD_ROWS };
    let layout = match temperatures {
        0..=4 => 0,
        5 => 1,
        _ => 2,
    };
    table[usize::from(standardize)][layout]
}

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
    MLKD_ROWS[0][0],
    MLKD_ROWS[0][1],
    MLKD_ROWS[0][2],
    MLKD_ROWS[1][0],
    MLKD_ROWS[1][1],
    MLKD_ROWS[1][2],
    MLKD_ROWS_QUADS[0][0],
    MLKD_ROWS_QUADS[0][1],
    MLKD_ROWS_QUADS[0][2],
    MLKD_ROWS_QUADS[1][0],
    MLKD_ROWS_QUADS[1][1],
    MLKD_ROWS_QUADS[1][2],
    MLKD_PROBS,
    MLKD_GRAM,
    MLKD_CORR_SLOPES,
    MLKD_CORR_GRAD,
];
