//! The at kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects (re-exported by `crate::shaders`, whose `ALL_KERNELS`
//! lists them).

use crate::shaders::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::shaders::Kernel;

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
