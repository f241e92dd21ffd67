//! The shared Gram kernels' entries in the shader table (used by `sp` and `pkt`).

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// `GramParams`, shared by the similarity losses' kernels.
pub const GRAM_LIB: &str = include_str!("batch_gram_common.wgsl");

/// Student and teacher Gram matrices (B×B), each of its own width.
pub const BATCH_GRAM: Kernel = Kernel {
    file: "src/losses/batch_gram/batch_gram.wgsl",
    source: include_str!("batch_gram.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: GRAM_LIB,
    variant: "",
    entry: "batch_gram",
    bindings: &[U, R, R, W, W],
};

/// The chunks' partial Grams folded in chunk order (features wider than one chunk).
pub const BATCH_GRAM_SUM: Kernel = Kernel {
    file: "src/losses/batch_gram/batch_gram_sum.wgsl",
    source: include_str!("batch_gram_sum.wgsl"),
    entry: "batch_gram_sum",
    bindings: &[U, W, W],
    ..BATCH_GRAM
};

/// The gradient C·Fs.
pub const BATCH_GRAM_GRAD: Kernel = Kernel {
    file: "src/losses/batch_gram/batch_gram_grad.wgsl",
    source: include_str!("batch_gram_grad.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: GRAM_LIB,
    variant: "",
    entry: "batch_gram_grad",
    bindings: &[U, R, R, W],
};
