//! MLKD (multi-level logit distillation, Jin et al., CVPR 2023): at each temperature of a
//! list, KL between the softmaxes (the instance term), and the distance between the class
//! (C×C) and the batch (B×B) correlation Grams of the softmaxes. With LS only the instance
//! term sees the z-scored logits (the LS authors' `MLKD.py`).
//!
//! This folder: `mlkd_row.wgsl` (every temperature from the same loads: the instance term,
//! its gradient and the softmaxes' row statistics; `mlkd_rows.wgsl` and `mlkd_rows_quads.wgsl`
//! its one-class and quad loads), per temperature `mlkd_probs.wgsl` (its
//! softmaxes), `mlkd_gram.wgsl` (each correlation Gram as a tiled
//! teacher − student difference, with its Σ D²), `mlkd_corr_slopes.wgsl` and
//! `mlkd_corr_grad.wgsl` (their gradient, then through the softmax), declarations in `mlkd_common.wgsl`, then `shaders/finish.wgsl`; the
//! table entries in `kernels.rs`; the float64 twin in `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::error::{Error, Result};
use crate::kernel::WORKGROUP_SIZE;
use crate::losses::checks::{check_finite, check_temperature, require_rank};
use crate::losses::common::{BatchCoupling, Inputs, Loss};
use crate::losses::registry::Entry;
use crate::plan::{
    check_binding, flat_grid, row_grid, FinishUniform, Io, IoLayout, Plan, PlanEnv, Slot,
    MAX_GROUPS_PER_DIM,
};
use crate::tensor::LogitShape;
use kernels::{
    paired_order, row_kernel, TemperatureLayout, MLKD_CORR_GRAD, MLKD_CORR_SLOPES, MLKD_GRAM,
    MLKD_PROBS,
};

/// The most temperatures one call takes (the paper uses 5).
pub const MAX_TEMPERATURES: usize = 8;

/// The most classes: the class correlation is a C×C Gram over the batch (B·C² work, C²
/// memory), meant for vision heads, not vocabularies.
pub const MAX_CLASSES: usize = 4096;

/// MLKD's name, parameters and kernels.
pub const REGISTRATION: Entry<MlkdParams> = Entry {
    name: "mlkd",
    params: &[
        "temperatures",
        "kd-weight",
        "cc-weight",
        "bc-weight",
        "standardize",
    ],
    kernels: kernels::KERNELS,
    build: |v| {
        let d = MlkdParams::default();
        let mut p = MlkdParams {
            kd_weight: v.number_or("kd-weight", d.kd_weight)?,
            cc_weight: v.number_or("cc-weight", d.cc_weight)?,
            bc_weight: v.number_or("bc-weight", d.bc_weight)?,
            standardize: v.flag("standardize")?.unwrap_or(d.standardize),
            ..d
        };
        if let Some(list) = v.numbers("temperatures")? {
            p = p.with_temperatures(&list);
        }
        Ok(p)
    },
};

/// Parameters of MLKD: `L = Σ_T (w_kd·T²·KL + w_cc·‖ΔG_class‖²/C + w_bc·‖ΔG_batch‖²/B)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MlkdParams {
    /// The temperatures (the first `given.min(MAX_TEMPERATURES)`): a fixed array, so that
    /// the parameters stay `Copy` like every loss's.
    temperatures: [f64; MAX_TEMPERATURES],
    /// How many temperatures were given (0, or more than `MAX_TEMPERATURES`, is refused by
    /// the parameter check).
    given: usize,
    /// Weight of the instance (KL) term.
    pub kd_weight: f64,
    /// Weight of the class correlation term.
    pub cc_weight: f64,
    /// Weight of the batch correlation term.
    pub bc_weight: f64,
    /// LS (SPEC "LS") on the instance term; the correlation terms keep the raw logits.
    pub standardize: bool,
}

impl MlkdParams {
    /// MLKD at `temperatures` with unit weights.
    pub fn new(temperatures: &[f64]) -> Self {
        Self::default().with_temperatures(temperatures)
    }

    /// The same parameters at `temperatures` (1 to [`MAX_TEMPERATURES`], each finite and
    /// > 0: checked when the loss runs).
    #[must_use]
    pub fn with_temperatures(mut self, temperatures: &[f64]) -> Self {
        self.temperatures = [0.0; MAX_TEMPERATURES];
        let kept = temperatures.len().min(MAX_TEMPERATURES);
        self.temperatures[..kept].copy_from_slice(&temperatures[..kept]);
        self.given = temperatures.len();
        self
    }

    /// The temperatures.
    pub fn temperatures(&self) -> &[f64] {
        &self.temperatures[..self.given.min(MAX_TEMPERATURES)]
    }
}

setters!(MlkdParams {
    with_kd_weight(kd_weight: f64),
    with_cc_weight(cc_weight: f64),
    with_bc_weight(bc_weight: f64),
    /// LS on the instance term.
    with_standardize(standardize: bool),
});

impl Default for MlkdParams {
    /// The paper's temperatures {2, 3, 4, 5, 6}, unit weights, no LS.
    fn default() -> Self {
        Self {
            temperatures: [2.0, 3.0, 4.0, 5.0, 6.0, 0.0, 0.0, 0.0],
            given: 5,
            kd_weight: 1.0,
            cc_weight: 1.0,
            bc_weight: 1.0,
            standardize: false,
        }
    }
}

/// Mirrors `MlkdParams` in `mlkd_common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MlkdUniform {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    temps: u32,
    standardize: u32,
    kd_scale: f32,
    write_stats: u32,
    t: [f32; MAX_TEMPERATURES],
    inv_t: [f32; MAX_TEMPERATURES],
}

/// Mirrors `CorrParams` in `mlkd_common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct CorrUniform {
    items: u32,
    sum_len: u32,
    item_stride: u32,
    sum_stride: u32,
    student_base: u32,
    teacher_base: u32,
    partial_offset: u32,
    tiles_x: u32,
    rows: u32,
    cols: u32,
    groups_x: u32,
    inv_t: f32,
    cc_scale: f32,
    bc_scale: f32,
    temp_index: u32,
    _pad: u32,
}

/// The Grams' outputs per workgroup and axis (`mlkd_gram.wgsl`: 16×16 invocations, 4×4
/// outputs each).
const TILE: usize = 64;

/// Floats per row of the row statistics: both raw maxima, then both sums per temperature.
const STATS_PER_ROW: usize = 2 + 2 * MAX_TEMPERATURES;

/// The row pass; per temperature the softmaxes, the class Gram, the batch Gram and (with a
/// gradient) the slopes and the softmax's Jacobian; the finish over the row terms and the
/// workgroups' Σ D².
fn make_plan(env: &PlanEnv, params: &MlkdParams, dims: &[usize], io: &IoLayout) -> Result<Plan> {
    let shape = LogitShape::from_dims(dims)?;
    let (b, c) = (shape.rows, shape.cols);
    // Five temperatures that pair up (the default, in any order) run in the order whose
    // exponentials the row pass shares.
    let paired = paired_order(params.temperatures());
    let temps = paired.as_ref().map_or(params.temperatures(), |p| &p[..]);
    let n_t = temps.len();
    let block = b * c;
    // A correlation term of weight 0 is skipped (no Gram, no gradient, no partial sums).
    let class = params.cc_weight != 0.0;
    let batch = params.bc_weight != 0.0;
    if class || batch {
        check_binding(env, "mlkd's softmaxes (2 × B × C)", (2 * block) as u64 * 4)?;
    }
    if batch {
        check_binding(env, "mlkd's batch correlation (B×B)", (b * b) as u64 * 4)?;
    }
    let tiles = |n: usize| n.div_ceil(TILE);
    if tiles(b) > MAX_GROUPS_PER_DIM as usize {
        return Err(Error::Limit(format!(
            "mlkd's batch correlation needs B/64 ≤ 65535 workgroups per axis, got B = {b}"
        )));
    }
    let cc_tiles = if class { tiles(c) * tiles(c) } else { 0 };
    let bc_tiles = if batch { tiles(b) * tiles(b) } else { 0 };
    let mut plan = Plan::new("mlkd", io.precision());
    let partials = plan.scratch(
        "mlkd.partials",
        (b + n_t * (cc_tiles + bc_tiles)) as u64 * 4,
    );
    let no_grad = plan.scratch("unused gradient", 16);
    // Scratch the skipped terms do not use stays at its placeholder size.
    let sized = |n: usize, used: bool| if used { n as u64 * 4 } else { 16 };
    let stats = plan.scratch("mlkd.stats", sized(b * STATS_PER_ROW, class || batch));
    let probs = plan.scratch("mlkd.probs", sized(2 * block, class || batch));
    let class_diff = plan.scratch("mlkd.class_diff", sized(c * c, class));
    let batch_diff = plan.scratch("mlkd.batch_diff", sized(b * b, batch));

    let threads_per_row = env.threads_per_row(c);
    let row_groups = row_grid(b, threads_per_row)?;
    let (mut t, mut inv_t) = ([0f32; MAX_TEMPERATURES], [0f32; MAX_TEMPERATURES]);
    for (i, &value) in temps.iter().enumerate() {
        t[i] = value as f32;
        inv_t[i] = (1.0 / value) as f32;
    }
    let rows = plan.params(&MlkdUniform {
        rows: b as u32,
        cols: c as u32,
        groups_x: row_groups[0],
        write_grad: io.has_grad() as u32,
        temps: n_t as u32,
        standardize: params.standardize as u32,
        kd_scale: (params.kd_weight / b as f64) as f32,
        write_stats: (class || batch) as u32,
        t,
        inv_t,
    });
    plan.dispatch(
        row_kernel(
            params.standardize,
            env.quads(c, io),
            TemperatureLayout::of(&inv_t[..n_t]),
        ),
        threads_per_row,
        vec![
            rows,
            Slot::io(Io::Student),
            Slot::io(Io::Teacher),
            partials,
            io.grad_or(no_grad),
            stats,
        ],
        row_groups,
    );
    let slopes =
        (io.has_grad() && (class || batch)).then(|| plan.scratch("mlkd.slopes", block as u64 * 4));
    let element_groups = flat_grid(block, "mlkd's elements")?;
    // The slopes: one invocation per 4×4 block of rows and classes.
    let quad_groups = flat_grid(b.div_ceil(4) * c.div_ceil(4), "mlkd's correlation slopes")?;
    for (i, &temperature) in temps.iter().enumerate().filter(|_| class || batch) {
        let common = CorrUniform {
            student_base: 0,
            teacher_base: block as u32,
            rows: b as u32,
            cols: c as u32,
            groups_x: row_groups[0],
            inv_t: (1.0 / temperature) as f32,
            cc_scale: (-4.0 * params.cc_weight / c as f64) as f32,
            bc_scale: (-4.0 * params.bc_weight / b as f64) as f32,
            temp_index: i as u32,
            ..CorrUniform::default()
        };
        let elements = plan.params(&CorrUniform {
            groups_x: element_groups[0],
            ..common
        });
        plan.dispatch(
            MLKD_PROBS,
            WORKGROUP_SIZE,
            vec![
                elements,
                Slot::io(Io::Student),
                Slot::io(Io::Teacher),
                stats,
                probs,
            ],
            element_groups,
        );
        // PᵀP over the batch (items: classes), then PPᵀ over the classes (items: rows).
        let grams = [
            (class, c, b, (1, c), b + i * cc_tiles, class_diff),
            (
                batch,
                b,
                c,
                (c, 1),
                b + n_t * cc_tiles + i * bc_tiles,
                batch_diff,
            ),
        ];
        for (_, items, sum_len, strides, offset, diff) in grams.into_iter().filter(|g| g.0) {
            let gram = plan.params(&CorrUniform {
                items: items as u32,
                sum_len: sum_len as u32,
                item_stride: strides.0 as u32,
                sum_stride: strides.1 as u32,
                partial_offset: offset as u32,
                tiles_x: tiles(items) as u32,
                ..common
            });
            let side = tiles(items) as u32;
            plan.dispatch(
                MLKD_GRAM,
                WORKGROUP_SIZE,
                vec![gram, probs, diff, partials],
                [side, side, 1],
            );
        }
        if let Some(slopes) = slopes {
            let quads = plan.params(&CorrUniform {
                groups_x: quad_groups[0],
                ..common
            });
            plan.dispatch(
                MLKD_CORR_SLOPES,
                WORKGROUP_SIZE,
                vec![quads, probs, class_diff, batch_diff, slopes],
                quad_groups,
            );
            let params = plan.params(&common);
            plan.dispatch(
                MLKD_CORR_GRAD,
                threads_per_row,
                vec![params, probs, slopes, Slot::io(Io::Grad)],
                row_groups,
            );
        }
    }
    let finish = FinishUniform::triple([
        (b, params.kd_weight / b as f64),
        (n_t * cc_tiles, params.cc_weight / c as f64),
        (n_t * bc_tiles, params.bc_weight / b as f64),
    ]);
    plan.finish(finish, partials);
    Ok(plan)
}

impl Loss for MlkdParams {
    fn name(&self) -> &'static str {
        "mlkd"
    }

    /// Its B×B terms relate every pair of rows.
    fn batch_coupling(&self) -> BatchCoupling {
        BatchCoupling::Pairwise
    }

    fn check_params(&self) -> Result<()> {
        if self.given == 0 {
            return Err(Error::Param(
                "mlkd needs at least one temperature (the list is empty)".into(),
            ));
        }
        if self.given > MAX_TEMPERATURES {
            return Err(Error::Param(format!(
                "mlkd takes at most {MAX_TEMPERATURES} temperatures, got {}",
                self.given
            )));
        }
        for &t in self.temperatures() {
            check_temperature(t)?;
        }
        check_finite("kd weight", self.kd_weight)?;
        check_finite("cc weight", self.cc_weight)?;
        check_finite("bc weight", self.bc_weight)
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        require_rank(self.name(), dims, 2, "B×C")?;
        if dims[1] > MAX_CLASSES {
            return Err(Error::Limit(format!(
                "mlkd's class correlation is a C×C Gram: C ≤ {MAX_CLASSES}, got C = {}",
                dims[1]
            )));
        }
        if self.standardize {
            crate::losses::standardize::check_classes(dims[1])?;
        }
        Ok(())
    }

    fn plan(&self, env: &PlanEnv, shape: &[usize], io: &IoLayout) -> Result<Plan> {
        make_plan(env, self, shape, io)
    }

    fn reference(
        &self,
        student: &[f64],
        teacher: &[f64],
        inputs: &Inputs<'_>,
    ) -> Result<(f64, Vec<f64>)> {
        let weights = reference::Weights {
            kd: self.kd_weight,
            cc: self.cc_weight,
            bc: self.bc_weight,
        };
        reference::mlkd(
            student,
            teacher,
            (inputs.shape[0], inputs.shape[1]),
            self.temperatures(),
            weights,
            self.standardize,
        )
    }
}
