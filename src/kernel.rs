//! What a kernel is and how its module is assembled: the shared WGSL under `shaders/lib/`, the
//! input loads for a dtype, a loss family's declarations, then the kernel file; and the kernels
//! that belong to no loss (finish, roofline, scale). Device-free: the engine
//! (`crate::gpu`) compiles what this assembles; each loss declares its own kernels beside its
//! WGSL (`src/losses/<loss>/kernels.rs`).

/// WGSL prepended to every kernel: workgroup size, row layout, softmax statistics.
pub const REDUCE_LIB: &str = include_str!("../shaders/lib/reduce.wgsl");

/// The segmented reductions (`seg_sum`, `seg_max`, `seg_softmax2`), after `REDUCE_LIB`: with
/// workgroup barriers (any device), or with subgroup shuffles (SUBGROUP, segments inside one
/// subgroup; naga accepts them under the SUBGROUP feature, with no `enable` directive).
/// Bitwise the same results.
pub const SEGMENT_BARRIER_LIB: &str = include_str!("../shaders/lib/segment_barrier.wgsl");
pub const SEGMENT_SUBGROUP_LIB: &str = include_str!("../shaders/lib/segment_subgroup.wgsl");

/// The probe that checks a device's subgroup layout before the subgroup reductions are used
/// (a complete module: one storage binding of two atomic u32).
pub const SUBGROUP_PROBE: &str = include_str!("../shaders/subgroup_probe.wgsl");

/// Input loads for each dtype (`load_student`, `load_teacher` and bindings 1 and 2).
pub const INPUT_F32: &str = include_str!("../shaders/lib/input_f32.wgsl");
pub const INPUT_F16: &str = include_str!("../shaders/lib/input_f16.wgsl");
pub const INPUT_BF16: &str = include_str!("../shaders/lib/input_bf16.wgsl");

/// The same loads, four consecutive elements at a time (`load_student4`, `load_teacher4`).
pub const INPUT_F32X4: &str = include_str!("../shaders/lib/input_f32x4.wgsl");
/// Test only: the f32 loads counting each element read (`GpuContext::count_input_loads`).
pub const INPUT_F32_COUNTED: &str = include_str!("../shaders/lib/input_f32_counted.wgsl");
/// Test only: the f32 quad loads counting each element read.
pub const INPUT_F32X4_COUNTED: &str = include_str!("../shaders/lib/input_f32x4_counted.wgsl");
pub const INPUT_F16X4: &str = concat!(
    include_str!("../shaders/lib/decode_f16x4.wgsl"),
    "\n",
    include_str!("../shaders/lib/input_f16x4.wgsl")
);
pub const INPUT_BF16X4: &str = concat!(
    include_str!("../shaders/lib/decode_bf16x4.wgsl"),
    "\n",
    include_str!("../shaders/lib/input_bf16x4.wgsl")
);
/// The sparse-teacher quad kernel's student alone (its teacher is ids and log-probs), f32.
pub const SPARSE_STUDENT_F32X4: &str = include_str!("../shaders/lib/sparse_student_f32x4.wgsl");
/// The same, float16.
pub const SPARSE_STUDENT_F16X4: &str = concat!(
    include_str!("../shaders/lib/decode_f16x4.wgsl"),
    "\n",
    include_str!("../shaders/lib/sparse_student_f16x4.wgsl")
);
/// The same, bfloat16.
pub const SPARSE_STUDENT_BF16X4: &str = concat!(
    include_str!("../shaders/lib/decode_bf16x4.wgsl"),
    "\n",
    include_str!("../shaders/lib/sparse_student_bf16x4.wgsl")
);

/// The logit kernels' softmax numerics, after the input loads: their first sweep
/// (`row_softmax2`, `row_softmax2_quads`: each row's max and sum of exp) and the KL term that
/// stays exact where the two distributions nearly agree (`kl_term`, `kl_term4`).
pub const ROW_SOFTMAX_LIB: &str = include_str!("../shaders/lib/row_softmax.wgsl");

/// Gradient stores of the quad kernels (`GradQuad`, `encode_grad4`) for each gradient dtype.
pub const GRAD_F32X4: &str = include_str!("../shaders/lib/grad_f32x4.wgsl");
pub const GRAD_F16X4: &str = include_str!("../shaders/lib/grad_f16x4.wgsl");
pub const GRAD_BF16X4: &str = include_str!("../shaders/lib/grad_bf16x4.wgsl");

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
    /// The WGSL file's path from the crate root (for messages and tests).
    pub file: &'static str,
    /// The file's WGSL, without the shared library.
    pub source: &'static str,
    /// Declarations shared by the kernel's loss family ("" for none), after `REDUCE_LIB`.
    pub family: &'static str,
    /// Which per-loss term a shared skeleton runs (the token kernels: "kl", "jsd", "tvd"), ""
    /// for the others. With `file`, it names the module: one file, one module per variant.
    pub variant: &'static str,
    /// Whether the kernel reads its inputs through `load_student`/`load_teacher`, and so
    /// takes f16 and bf16 inputs as well as f32.
    pub dtype_aware: bool,
    /// Whether the input library gives the student alone (`load_slot_student`, `student_at`
    /// from `lib/sparse_student_*x4.wgsl`): the sparse teacher's quad kernel, whose teacher is
    /// ids and log-probs. Implies `dtype_aware` and `quads`.
    pub student_only: bool,
    /// Whether the kernel reads four consecutive elements per load (`load_student4`, from the
    /// `*x4` input libraries): rows of a multiple of 4 elements, 16-byte aligned bindings.
    pub quads: bool,
    /// Entry point.
    pub entry: &'static str,
    /// Bindings of group 0, in binding order.
    pub bindings: &'static [BindingKind],
}

/// Kernels are the same when their file, variant and entry are.
impl PartialEq for Kernel {
    fn eq(&self, other: &Self) -> bool {
        (self.file, self.variant, self.entry) == (other.file, other.variant, other.entry)
    }
}

impl Kernel {
    /// The complete module source: the shared library, the input loads for `dtype` (kernels
    /// that read inputs through them), the family's declarations, then the kernel file.
    pub fn module_source_for(&self, dtype: InputDtype) -> String {
        self.module_source(dtype, false)
    }

    /// The module source with the segmented reductions done by subgroup shuffles (`true`) or
    /// by workgroup barriers (`false`), and an f32 gradient.
    pub fn module_source(&self, dtype: InputDtype, subgroups: bool) -> String {
        self.module_source_with(dtype, InputDtype::F32, subgroups)
    }

    /// The module source for `inputs`, a gradient stored as `grad` (quad kernels only: the
    /// others always write f32) and the reduction form.
    pub fn module_source_with(
        &self,
        dtype: InputDtype,
        grad: InputDtype,
        subgroups: bool,
    ) -> String {
        let loads = match (self.dtype_aware, self.quads, dtype) {
            (false, _, _) => "",
            (true, _, dtype) if self.student_only => match dtype {
                InputDtype::F32 => SPARSE_STUDENT_F32X4,
                InputDtype::F16 => SPARSE_STUDENT_F16X4,
                InputDtype::Bf16 => SPARSE_STUDENT_BF16X4,
            },
            (true, false, InputDtype::F32) => INPUT_F32,
            (true, false, InputDtype::F16) => INPUT_F16,
            (true, false, InputDtype::Bf16) => INPUT_BF16,
            (true, true, InputDtype::F32) => INPUT_F32X4,
            (true, true, InputDtype::F16) => INPUT_F16X4,
            (true, true, InputDtype::Bf16) => INPUT_BF16X4,
        };
        self.assemble(loads, grad, subgroups)
    }

    /// The module source of a kernel reading f32 inputs through the counting loads (test
    /// only: `GpuContext::count_input_loads`); other kernels' sources are unchanged.
    pub fn module_source_counted(&self, subgroups: bool) -> String {
        let loads = match (self.dtype_aware, self.quads) {
            (false, _) => "",
            (true, false) => INPUT_F32_COUNTED,
            (true, true) => INPUT_F32X4_COUNTED,
        };
        self.assemble(loads, InputDtype::F32, subgroups)
    }

    /// The library, `loads`, the softmax numerics and gradient stores where the kernel uses
    /// them, the family's declarations, then the kernel file.
    fn assemble(&self, loads: &str, grad: InputDtype, subgroups: bool) -> String {
        let segments = if subgroups {
            SEGMENT_SUBGROUP_LIB
        } else {
            SEGMENT_BARRIER_LIB
        };
        // Kernels that read logits also get their shared softmax numerics (which read both
        // inputs: not with the student alone).
        let row_softmax = if self.dtype_aware && !self.student_only {
            ROW_SOFTMAX_LIB
        } else {
            ""
        };
        let stores = match (self.quads, grad) {
            (false, _) => "",
            (true, InputDtype::F32) => GRAD_F32X4,
            (true, InputDtype::F16) => GRAD_F16X4,
            (true, InputDtype::Bf16) => GRAD_BF16X4,
        };
        format!(
            "{REDUCE_LIB}\n{segments}\n{loads}\n{row_softmax}\n{stores}\n{}\n{}",
            self.family, self.source
        )
    }
}

use crate::tensor::InputDtype;
use BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};

/// Final fixed-order reduction of per-row / per-column partial terms into the scalar loss.
pub const FINISH: Kernel = Kernel {
    file: "shaders/finish.wgsl",
    source: include_str!("../shaders/finish.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "finish",
    bindings: &[U, R, W],
};

/// The benchmark's roofline: one read of each input, one write of the gradient.
pub const ROOFLINE: Kernel = Kernel {
    file: "shaders/roofline.wgsl",
    source: include_str!("../shaders/roofline.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "roofline",
    bindings: &[U, R, R, W],
};

/// The roofline in quad form (element counts that are a multiple of 4).
pub const ROOFLINE_QUADS: Kernel = Kernel {
    file: "shaders/roofline_quads.wgsl",
    source: include_str!("../shaders/roofline_quads.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: true,
    family: "",
    variant: "",
    entry: "roofline_quads",
    bindings: &[U, R, R, W],
};

/// A gradient scaled in place by a device-side factor (`GpuContext::record_scale`).
pub const SCALE: Kernel = Kernel {
    file: "shaders/scale.wgsl",
    source: include_str!("../shaders/scale.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "scale_in_place",
    bindings: &[U, R, W],
};

/// `SCALE` four values at a time.
pub const SCALE_QUADS: Kernel = Kernel {
    file: "shaders/scale_quads.wgsl",
    source: include_str!("../shaders/scale_quads.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "scale_in_place_quads",
    bindings: &[U, R, W],
};

/// The most storage buffers one kernel binds: a device must allow as many per shader stage
/// (`tests/suite/shaders.rs` checks every registered kernel against it).
pub const MAX_STORAGE_BUFFERS: u32 = 8;

/// Storage buffers `kernel` binds.
pub fn storage_buffers(kernel: &Kernel) -> u32 {
    kernel.bindings.iter().filter(|&&b| b != U).count() as u32
}

/// Workgroup size shared by every kernel (`WG` in `lib/reduce.wgsl`).
pub const WORKGROUP_SIZE: u32 = 256;

/// Elements per lane the cached kernels keep in registers (one vec4: `slot_columns` in
/// `lib/reduce.wgsl`).
pub const CACHE_PER_LANE: u32 = 4;

/// The kernels that belong to no loss.
pub const KERNELS: &[Kernel] = &[FINISH, ROOFLINE, ROOFLINE_QUADS, SCALE, SCALE_QUADS];
