//! The dist kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// Declarations shared by the DIST kernels.
pub const DIST_LIB: &str = include_str!("dist_common.wgsl");

/// The DIST declarations and the loss fold of the gradient kernels.
pub const DIST_GRAD_LIB: &str = concat!(
    include_str!("dist_common.wgsl"),
    "\n",
    include_str!("dist_fold.wgsl")
);

/// DIST row pass, four classes per load.
pub const DIST_ROWS_QUADS: Kernel = Kernel {
    file: "src/losses/dist/dist_rows.wgsl",
    source: include_str!("dist_rows.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: true,
    family: DIST_LIB,
    variant: "",
    entry: "dist_rows_quads",
    bindings: &[U, R, R, W, W, R],
};

/// DIST column moments per tile, four columns per lane.
pub const DIST_COLUMN_PARTIALS_QUADS: Kernel = Kernel {
    file: "src/losses/dist/dist_columns.wgsl",
    source: include_str!("dist_columns.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: true,
    family: DIST_LIB,
    variant: "",
    entry: "dist_column_partials_quads",
    bindings: &[U, R, R, R, W],
};

/// DIST gradient, four classes per load and store.
pub const DIST_GRAD_QUADS: Kernel = Kernel {
    file: "src/losses/dist/dist_grad_quads.wgsl",
    source: include_str!("dist_grad_quads.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: true,
    family: DIST_GRAD_LIB,
    variant: "",
    entry: "dist_grad_quads",
    bindings: &[U, R, R, R, R, W, R, W],
};

/// DIST gradient, four classes per load and store, four rows per segment (each column
/// quad's statistics loaded once for four rows).
pub const DIST_GRAD_QUADS_ROWS4: Kernel = Kernel {
    entry: "dist_grad_quads_rows4",
    ..DIST_GRAD_QUADS
};

/// DIST gradient, four classes per load and store, eight rows per segment.
pub const DIST_GRAD_QUADS_ROWS8: Kernel = Kernel {
    entry: "dist_grad_quads_rows8",
    ..DIST_GRAD_QUADS
};

/// DIST row statistics and inter-class Pearson terms.
pub const DIST_ROWS: Kernel = Kernel {
    file: "src/losses/dist/dist_rows.wgsl",
    source: include_str!("dist_rows.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: DIST_LIB,
    variant: "",
    entry: "dist_rows",
    bindings: &[U, R, R, W, W, R],
};

/// DIST row pass in one read of each row (`Strategy::dist_row_reads = 1`: online moments).
pub const DIST_ROWS_ONE_READ: Kernel = Kernel {
    entry: "dist_rows_one_read",
    ..DIST_ROWS
};

/// The one-read row pass, four classes per load.
pub const DIST_ROWS_ONE_READ_QUADS: Kernel = Kernel {
    entry: "dist_rows_one_read_quads",
    ..DIST_ROWS_QUADS
};

/// DIST per-tile column moments.
pub const DIST_COLUMN_PARTIALS: Kernel = Kernel {
    file: "src/losses/dist/dist_columns.wgsl",
    source: include_str!("dist_columns.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: DIST_LIB,
    variant: "",
    entry: "dist_column_partials",
    bindings: &[U, R, R, R, W],
};

/// DIST column merge (Chan) and intra-class Pearson terms.
pub const DIST_COLUMN_MERGE: Kernel = Kernel {
    file: "src/losses/dist/dist_merge.wgsl",
    source: include_str!("dist_merge.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: DIST_LIB,
    variant: "",
    entry: "dist_column_merge",
    bindings: &[U, R, W, W],
};

/// DIST shard statistics: tiles folded into one set of column moments.
pub const DIST_COLUMN_REDUCE: Kernel = Kernel {
    file: "src/losses/dist/dist_reduce.wgsl",
    source: include_str!("dist_reduce.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: DIST_LIB,
    variant: "",
    entry: "dist_column_reduce",
    bindings: &[U, R, W],
};

/// DIST gradient (streaming); its first workgroup also folds the loss.
pub const DIST_GRAD: Kernel = Kernel {
    file: "src/losses/dist/dist_grad.wgsl",
    source: include_str!("dist_grad.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: DIST_GRAD_LIB,
    variant: "",
    entry: "dist_grad",
    bindings: &[U, R, R, R, R, W, R, W],
};

/// DIST gradient, rows held in registers; its first workgroup also folds the loss.
pub const DIST_GRAD_CACHED: Kernel = Kernel {
    file: "src/losses/dist/dist_grad.wgsl",
    source: include_str!("dist_grad.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: DIST_GRAD_LIB,
    variant: "",
    entry: "dist_grad_cached",
    bindings: &[U, R, R, R, R, W, R, W],
};

/// DIST fused row and column statistics (rows held in registers, one read per input).
pub const DIST_TILE: Kernel = Kernel {
    file: "src/losses/dist/dist_tile.wgsl",
    source: include_str!("dist_tile.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: DIST_LIB,
    variant: "",
    entry: "dist_tile",
    bindings: &[U, R, R, W, W, W, R],
};

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[
    DIST_ROWS_QUADS,
    DIST_COLUMN_PARTIALS_QUADS,
    DIST_GRAD_QUADS,
    DIST_GRAD_QUADS_ROWS4,
    DIST_GRAD_QUADS_ROWS8,
    DIST_ROWS,
    DIST_ROWS_ONE_READ,
    DIST_ROWS_ONE_READ_QUADS,
    DIST_COLUMN_PARTIALS,
    DIST_COLUMN_MERGE,
    DIST_COLUMN_REDUCE,
    DIST_GRAD,
    DIST_GRAD_CACHED,
    DIST_TILE,
];
