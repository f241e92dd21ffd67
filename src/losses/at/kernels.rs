//! The at kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// AT attention maps, loss terms and gradient per sample.
pub const AT_SAMPLES: Kernel = Kernel {
    file: "src/losses/at/at.wgsl",
    source: include_str!("at.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "at_samples",
    bindings: &[U, R, R, W, W, W],
};

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[AT_SAMPLES];
