//! The fitnet kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// FitNet squared error per block and gradient.
pub const FITNET_BLOCKS: Kernel = Kernel {
    file: "src/losses/fitnet/fitnet.wgsl",
    source: include_str!("fitnet.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "fitnet_blocks",
    bindings: &[U, R, R, W, W],
};

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[FITNET_BLOCKS];
