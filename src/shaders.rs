//! The shader table: every WGSL file, how a module is assembled from it, and the bindings each
//! entry point expects. One place, so that tests can validate every shader with naga and compare
//! the bindings declared here with the ones reflected from the WGSL.

/// WGSL prepended to every kernel: workgroup size, segmented reductions, softmax statistics.
pub const REDUCE_LIB: &str = include_str!("../shaders/lib/reduce.wgsl");

/// Declarations shared by the DIST kernels.
pub const DIST_LIB: &str = include_str!("../shaders/lib/dist_common.wgsl");

/// How a kernel uses one binding (all in group 0, bindings numbered from 0 in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingKind {
    /// `var<uniform>`: the per-call parameters.
    Uniform,
    /// `var<storage, read>`.
    ReadOnly,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// One compute entry point and its binding layout.
#[derive(Clone, Copy, Debug)]
pub struct Kernel {
    /// File name under `shaders/` (for messages and tests).
    pub file: &'static str,
    /// The file's WGSL, without the shared library.
    pub source: &'static str,
    /// Declarations shared by the kernel's loss family ("" for none), after `REDUCE_LIB`.
    pub family: &'static str,
    /// Entry point.
    pub entry: &'static str,
    /// Bindings of group 0, in binding order.
    pub bindings: &'static [BindingKind],
}

impl Kernel {
    /// The complete module source: the shared library followed by the kernel file.
    pub fn module_source(&self) -> String {
        format!("{REDUCE_LIB}\n{}\n{}", self.family, self.source)
    }
}

use BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};

/// Final fixed-order reduction of per-row / per-column partial terms into the scalar loss.
pub const FINISH: Kernel = Kernel {
    file: "finish.wgsl",
    source: include_str!("../shaders/finish.wgsl"),
    family: "",
    entry: "finish",
    bindings: &[U, R, W],
};

/// KL per-row terms and gradient.
pub const KL_ROWS: Kernel = Kernel {
    file: "kl.wgsl",
    source: include_str!("../shaders/kl.wgsl"),
    family: "",
    entry: "kl_rows",
    bindings: &[U, R, R, W, W],
};

/// DIST row statistics and inter-class Pearson terms.
pub const DIST_ROWS: Kernel = Kernel {
    file: "dist_rows.wgsl",
    source: include_str!("../shaders/dist_rows.wgsl"),
    family: DIST_LIB,
    entry: "dist_rows",
    bindings: &[U, R, R, W, W],
};

/// DIST per-tile column moments.
pub const DIST_COLUMN_PARTIALS: Kernel = Kernel {
    file: "dist_columns.wgsl",
    source: include_str!("../shaders/dist_columns.wgsl"),
    family: DIST_LIB,
    entry: "dist_column_partials",
    bindings: &[U, R, R, R, W],
};

/// DIST column merge (Chan) and intra-class Pearson terms.
pub const DIST_COLUMN_MERGE: Kernel = Kernel {
    file: "dist_merge.wgsl",
    source: include_str!("../shaders/dist_merge.wgsl"),
    family: DIST_LIB,
    entry: "dist_column_merge",
    bindings: &[U, R, W, W],
};

/// DIST gradient.
pub const DIST_GRAD: Kernel = Kernel {
    file: "dist_grad.wgsl",
    source: include_str!("../shaders/dist_grad.wgsl"),
    family: DIST_LIB,
    entry: "dist_grad",
    bindings: &[U, R, R, R, R, W],
};

/// The benchmark's roofline: one read of each input, one write of the gradient.
pub const ROOFLINE: Kernel = Kernel {
    file: "roofline.wgsl",
    source: include_str!("../shaders/roofline.wgsl"),
    family: "",
    entry: "roofline",
    bindings: &[U, R, R, W],
};

/// Every kernel of the library (validated and translated by `tests/shaders.rs`).
pub const ALL_KERNELS: &[Kernel] = &[
    FINISH,
    KL_ROWS,
    DIST_ROWS,
    DIST_COLUMN_PARTIALS,
    DIST_COLUMN_MERGE,
    DIST_GRAD,
    ROOFLINE,
];

/// Workgroup size shared by every kernel (`WG` in `lib/reduce.wgsl`).
pub const WORKGROUP_SIZE: u32 = 256;
