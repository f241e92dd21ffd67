//! The shader table: every WGSL file, how a module is assembled from it, and the bindings each
//! entry point expects. One place, so that tests can validate every shader with naga and compare
//! the bindings declared here with the ones reflected from the WGSL.

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

/// Declarations shared by the ICKD kernels.
pub const ICKD_LIB: &str = include_str!("../shaders/lib/ickd_common.wgsl");

/// Declarations and geometry helpers shared by the RKD kernels.
pub const RKD_LIB: &str = include_str!("../shaders/lib/rkd_common.wgsl");

/// Declarations shared by the KL kernels.
pub const KL_LIB: &str = include_str!("../shaders/lib/kl_common.wgsl");

/// Declarations shared by the DKD kernels.
pub const DKD_LIB: &str = include_str!("../shaders/lib/dkd_common.wgsl");

/// Declarations shared by the DIST kernels.
pub const DIST_LIB: &str = include_str!("../shaders/lib/dist_common.wgsl");

/// The DIST declarations and the loss fold of the gradient kernels.
pub const DIST_GRAD_LIB: &str = concat!(
    include_str!("../shaders/lib/dist_common.wgsl"),
    "\n",
    include_str!("../shaders/lib/dist_fold.wgsl")
);

/// The token losses' declarations and the sparse teacher's row logic (its kernel files supply
/// the slot access).
pub const TOKEN_SPARSE_LIB: &str = concat!(
    include_str!("../shaders/lib/token_common.wgsl"),
    "\n",
    include_str!("../shaders/lib/token_sparse_rows.wgsl")
);

/// The token losses' declarations, the dense row skeleton, then each loss's per-class term
/// (see `shaders/lib/token_common.wgsl`): the skeleton is written once, the terms once each.
pub const TOKEN_KL_LIB: &str = concat!(
    include_str!("../shaders/lib/token_common.wgsl"),
    "\n",
    include_str!("../shaders/lib/token_rows.wgsl"),
    "\n",
    include_str!("../shaders/lib/token_term_kl.wgsl")
);
pub const TOKEN_JSD_LIB: &str = concat!(
    include_str!("../shaders/lib/token_common.wgsl"),
    "\n",
    include_str!("../shaders/lib/token_rows.wgsl"),
    "\n",
    include_str!("../shaders/lib/token_term_jsd.wgsl")
);
pub const TOKEN_TVD_LIB: &str = concat!(
    include_str!("../shaders/lib/token_common.wgsl"),
    "\n",
    include_str!("../shaders/lib/token_rows.wgsl"),
    "\n",
    include_str!("../shaders/lib/token_term_tvd.wgsl")
);

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
    file: "finish.wgsl",
    source: include_str!("../shaders/finish.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "finish",
    bindings: &[U, R, W],
};

/// KL per-row terms and gradient, four classes per load.
pub const KL_ROWS_QUADS: Kernel = Kernel {
    file: "kl_quads.wgsl",
    source: include_str!("../shaders/kl_quads.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: true,
    family: KL_LIB,
    variant: "",
    entry: "kl_rows_quads",
    bindings: &[U, R, R, W, W],
};

/// KL per-row terms and gradient.
pub const KL_ROWS: Kernel = Kernel {
    file: "kl.wgsl",
    source: include_str!("../shaders/kl.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: KL_LIB,
    variant: "",
    entry: "kl_rows",
    bindings: &[U, R, R, W, W],
};

/// DIST row pass, four classes per load.
pub const DIST_ROWS_QUADS: Kernel = Kernel {
    file: "dist_rows.wgsl",
    source: include_str!("../shaders/dist_rows.wgsl"),
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
    file: "dist_columns.wgsl",
    source: include_str!("../shaders/dist_columns.wgsl"),
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
    file: "dist_grad_quads.wgsl",
    source: include_str!("../shaders/dist_grad_quads.wgsl"),
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
    file: "dist_rows.wgsl",
    source: include_str!("../shaders/dist_rows.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: DIST_LIB,
    variant: "",
    entry: "dist_rows",
    bindings: &[U, R, R, W, W, R],
};

/// DIST per-tile column moments.
pub const DIST_COLUMN_PARTIALS: Kernel = Kernel {
    file: "dist_columns.wgsl",
    source: include_str!("../shaders/dist_columns.wgsl"),
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
    file: "dist_merge.wgsl",
    source: include_str!("../shaders/dist_merge.wgsl"),
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
    file: "dist_reduce.wgsl",
    source: include_str!("../shaders/dist_reduce.wgsl"),
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
    file: "dist_grad.wgsl",
    source: include_str!("../shaders/dist_grad.wgsl"),
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
    file: "dist_grad.wgsl",
    source: include_str!("../shaders/dist_grad.wgsl"),
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
    file: "dist_tile.wgsl",
    source: include_str!("../shaders/dist_tile.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: DIST_LIB,
    variant: "",
    entry: "dist_tile",
    bindings: &[U, R, R, W, W, W, R],
};

/// KL, the cached variant (rows of at most 4 × TPR classes held in registers).
pub const KL_ROWS_CACHED: Kernel = Kernel {
    file: "kl.wgsl",
    source: include_str!("../shaders/kl.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: KL_LIB,
    variant: "",
    entry: "kl_rows_cached",
    bindings: &[U, R, R, W, W],
};

/// DKD per-row TCKD/NCKD terms and gradient, four classes per load.
pub const DKD_ROWS_QUADS: Kernel = Kernel {
    file: "dkd_quads.wgsl",
    source: include_str!("../shaders/dkd_quads.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: true,
    family: DKD_LIB,
    variant: "",
    entry: "dkd_rows_quads",
    bindings: &[U, R, R, R, W, W],
};

/// DKD per-row TCKD/NCKD terms and gradient.
pub const DKD_ROWS: Kernel = Kernel {
    file: "dkd.wgsl",
    source: include_str!("../shaders/dkd.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: DKD_LIB,
    variant: "",
    entry: "dkd_rows",
    bindings: &[U, R, R, R, W, W],
};

/// FitNet squared error per block and gradient.
pub const FITNET_BLOCKS: Kernel = Kernel {
    file: "fitnet.wgsl",
    source: include_str!("../shaders/fitnet.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "fitnet_blocks",
    bindings: &[U, R, R, W, W],
};

/// AT attention maps, loss terms and gradient per sample.
pub const AT_SAMPLES: Kernel = Kernel {
    file: "at.wgsl",
    source: include_str!("../shaders/at.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "at_samples",
    bindings: &[U, R, R, W, W, W],
};

/// HCL pooled MSE terms and gradient per plane.
pub const HCL_PLANES: Kernel = Kernel {
    file: "hcl.wgsl",
    source: include_str!("../shaders/hcl.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "hcl_planes",
    bindings: &[U, R, R, W, W],
};

/// ICKD channel Gram matrices.
pub const ICKD_GRAM: Kernel = Kernel {
    file: "ickd.wgsl",
    source: include_str!("../shaders/ickd.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: ICKD_LIB,
    variant: "",
    entry: "ickd_gram",
    bindings: &[U, R, R, W, W],
};

/// ICKD row normalisation, loss terms and dL/dG.
pub const ICKD_ROWS: Kernel = Kernel {
    file: "ickd_rows.wgsl",
    source: include_str!("../shaders/ickd_rows.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: ICKD_LIB,
    variant: "",
    entry: "ickd_rows",
    bindings: &[U, R, W, W],
};

/// ICKD gradient (R + Rᵀ) F.
pub const ICKD_GRAD: Kernel = Kernel {
    file: "ickd_grad.wgsl",
    source: include_str!("../shaders/ickd_grad.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: ICKD_LIB,
    variant: "",
    entry: "ickd_grad",
    bindings: &[U, R, R, W],
};

/// RKD embedding Gram matrices.
pub const RKD_GRAM: Kernel = Kernel {
    file: "rkd_gram.wgsl",
    source: include_str!("../shaders/rkd_gram.wgsl"),
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
    file: "rkd_distance.wgsl",
    source: include_str!("../shaders/rkd_distance.wgsl"),
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
    file: "rkd_angle.wgsl",
    source: include_str!("../shaders/rkd_angle.wgsl"),
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
    file: "rkd_coefficients.wgsl",
    source: include_str!("../shaders/rkd_coefficients.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: RKD_LIB,
    variant: "",
    entry: "rkd_coefficients",
    bindings: &[U, R, R, R, R, R, W],
};

/// RKD gradient M E.
pub const RKD_GRAD: Kernel = Kernel {
    file: "rkd_grad.wgsl",
    source: include_str!("../shaders/rkd_grad.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: RKD_LIB,
    variant: "",
    entry: "rkd_grad",
    bindings: &[U, R, R, W],
};

/// The benchmark's roofline: one read of each input, one write of the gradient.
pub const ROOFLINE: Kernel = Kernel {
    file: "roofline.wgsl",
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
    file: "roofline_quads.wgsl",
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
    file: "scale.wgsl",
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
    file: "scale_quads.wgsl",
    source: include_str!("../shaders/scale_quads.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "scale_in_place_quads",
    bindings: &[U, R, W],
};

/// Token-loss rows (any C): KL with labels / normaliser / hard term.
pub const TOKEN_KL_ROWS: Kernel = Kernel {
    file: "token.wgsl",
    source: include_str!("../shaders/token.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: TOKEN_KL_LIB,
    variant: "kl",
    entry: "token_rows",
    bindings: &[U, R, R, R, R, W, W],
};

/// Token-loss rows, four classes per load and store: KL.
pub const TOKEN_KL_ROWS_QUADS: Kernel = Kernel {
    file: "token_quads.wgsl",
    source: include_str!("../shaders/token_quads.wgsl"),
    quads: true,
    entry: "token_rows_quads",
    ..TOKEN_KL_ROWS
};

/// Token-loss rows: generalized JSD.
pub const TOKEN_JSD_ROWS: Kernel = Kernel {
    family: TOKEN_JSD_LIB,
    variant: "jsd",
    ..TOKEN_KL_ROWS
};

/// Token-loss rows, quads: generalized JSD.
pub const TOKEN_JSD_ROWS_QUADS: Kernel = Kernel {
    family: TOKEN_JSD_LIB,
    variant: "jsd",
    ..TOKEN_KL_ROWS_QUADS
};

/// Token-loss rows: TVD.
pub const TOKEN_TVD_ROWS: Kernel = Kernel {
    family: TOKEN_TVD_LIB,
    variant: "tvd",
    ..TOKEN_KL_ROWS
};

/// Token-loss rows, quads: TVD.
pub const TOKEN_TVD_ROWS_QUADS: Kernel = Kernel {
    family: TOKEN_TVD_LIB,
    variant: "tvd",
    ..TOKEN_KL_ROWS_QUADS
};

/// KL against a sparse top-k teacher (f32 student and log-probs), with the token options.
pub const TOKEN_SPARSE_ROWS: Kernel = Kernel {
    file: "token_sparse.wgsl",
    source: include_str!("../shaders/token_sparse.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: TOKEN_SPARSE_LIB,
    variant: "",
    entry: "token_sparse_rows",
    bindings: &[U, R, R, R, R, W, W, R, R],
};

/// The sparse teacher, four classes per load and store (C a multiple of 4).
pub const TOKEN_SPARSE_ROWS_QUADS: Kernel = Kernel {
    file: "token_sparse_quads.wgsl",
    source: include_str!("../shaders/token_sparse_quads.wgsl"),
    entry: "token_sparse_rows_quads",
    // The student through lib/sparse_student_*x4.wgsl: f32, f16 or bf16 logits.
    dtype_aware: true,
    student_only: true,
    quads: true,
    ..TOKEN_SPARSE_ROWS
};

/// The sparse teacher's per-row bitmap of its ids (for the tail's log-mass).
pub const TOKEN_SPARSE_BITS: Kernel = Kernel {
    file: "token_sparse_bits.wgsl",
    source: include_str!("../shaders/token_sparse_bits.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "token_sparse_bits",
    bindings: &[U, R, W],
};

/// The token losses' valid-row count (labels without a caller's normaliser).
pub const TOKEN_COUNT: Kernel = Kernel {
    file: "token_count.wgsl",
    source: include_str!("../shaders/token_count.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "token_count",
    bindings: &[U, R, W],
};

/// Every kernel of the library (validated and translated by `tests/shaders.rs`).
/// The most storage buffers one kernel binds (the device must allow as many per stage).
pub fn max_storage_buffers() -> u32 {
    ALL_KERNELS
        .iter()
        .map(|k| k.bindings.iter().filter(|&&b| b != U).count() as u32)
        .max()
        .unwrap_or(0)
}

pub const ALL_KERNELS: &[Kernel] = &[
    FINISH,
    KL_ROWS,
    KL_ROWS_CACHED,
    KL_ROWS_QUADS,
    DKD_ROWS_QUADS,
    DIST_ROWS,
    DIST_COLUMN_PARTIALS,
    DIST_COLUMN_MERGE,
    DIST_GRAD,
    DIST_GRAD_CACHED,
    DIST_TILE,
    DIST_COLUMN_REDUCE,
    DIST_ROWS_QUADS,
    DIST_COLUMN_PARTIALS_QUADS,
    DIST_GRAD_QUADS,
    DIST_GRAD_QUADS_ROWS4,
    DIST_GRAD_QUADS_ROWS8,
    DKD_ROWS,
    FITNET_BLOCKS,
    AT_SAMPLES,
    HCL_PLANES,
    ICKD_GRAM,
    ICKD_ROWS,
    ICKD_GRAD,
    RKD_GRAM,
    RKD_DISTANCE,
    RKD_ANGLE,
    RKD_COEFFICIENTS,
    RKD_GRAD,
    ROOFLINE,
    ROOFLINE_QUADS,
    SCALE,
    SCALE_QUADS,
    TOKEN_KL_ROWS,
    TOKEN_KL_ROWS_QUADS,
    TOKEN_JSD_ROWS,
    TOKEN_JSD_ROWS_QUADS,
    TOKEN_TVD_ROWS,
    TOKEN_TVD_ROWS_QUADS,
    TOKEN_COUNT,
    TOKEN_SPARSE_ROWS,
    TOKEN_SPARSE_ROWS_QUADS,
    TOKEN_SPARSE_BITS,
];

/// Workgroup size shared by every kernel (`WG` in `lib/reduce.wgsl`).
pub const WORKGROUP_SIZE: u32 = 256;

/// Elements per lane the cached kernels keep in registers (one vec4: `slot_columns` in
/// `lib/reduce.wgsl`).
pub const CACHE_PER_LANE: u32 = 4;
