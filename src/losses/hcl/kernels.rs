//! The hcl kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// HCL pooled MSE terms and gradient per plane.
pub const HCL_PLANES: Kernel = Kernel {
    file: "src/losses/hcl/hcl.wgsl",
    source: include_str!("hcl.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "hcl_planes",
    bindings: &[U, R, R, W, W],
};

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[HCL_PLANES];
