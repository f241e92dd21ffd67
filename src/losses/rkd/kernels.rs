//! The rkd kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;
use crate::losses::batch_gram::kernels::BATCH_GRAM_GRAD;

/// Declarations and geometry helpers shared by the RKD kernels.
pub const RKD_LIB: &str = include_str!("rkd_common.wgsl");

/// RKD embedding Gram matrices.
pub const RKD_GRAM: Kernel = Kernel {
    file: "src/losses/rkd/rkd_gram.wgsl",
    source: include_str!("rkd_gram.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: RKD_LIB,
    variant: "",
    entry: "rkd_gram",
    bindings: &[U, R, R, W, W],
};

/// RKD distance term and its scalars.
pub const RKD_DISTANCE: Kernel = Kernel {
    file: "src/losses/rkd/rkd_distance.wgsl",
    source: include_str!("rkd_distance.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: RKD_LIB,
    variant: "",
    entry: "rkd_distance",
    bindings: &[U, R, R, W, W],
};

/// RKD angle term per pair.
pub const RKD_ANGLE: Kernel = Kernel {
    file: "src/losses/rkd/rkd_angle.wgsl",
    source: include_str!("rkd_angle.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: RKD_LIB,
    variant: "",
    entry: "rkd_angle_pairs",
    bindings: &[U, R, R, W, W, W],
};

/// RKD gradient coefficients M (dL/dE = M E).
pub const RKD_COEFFICIENTS: Kernel = Kernel {
    file: "src/losses/rkd/rkd_coefficients.wgsl",
    source: include_str!("rkd_coefficients.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: RKD_LIB,
    variant: "",
    entry: "rkd_coefficients",
    bindings: &[U, R, R, R, R, R, W],
};

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[
    RKD_GRAM,
    RKD_DISTANCE,
    RKD_ANGLE,
    RKD_COEFFICIENTS,
    BATCH_GRAM_GRAD,
];
