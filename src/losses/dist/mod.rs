//! DIST: Pearson inter-class (per row) and intra-class (per column, over the batch) relations
//! of the softmax outputs ("Knowledge Distillation from A Stronger Teacher").
//!
//! Shaders (this folder), in dispatch order: `dist_rows.wgsl` (row softmax statistics, inter term),
//! `dist_columns.wgsl` (per-tile column moments), `dist_merge.wgsl` (Chan merge, intra term),
//! `dist_grad.wgsl` (gradient, only when asked), `finish.wgsl` (the scalar loss). The optional
//! hard-label term rides along: the row pass writes each row's raw softmax statistics, label
//! and CE, the gradient kernels add its part to the rows they write.
//! Shared WGSL: `dist_common.wgsl`, `dist_fold.wgsl`; table entries: `kernels.rs`; the
//! float64 twin: `reference.rs`.

pub(crate) mod kernels;
pub mod layout;
pub mod reference;
mod shards;

pub use shards::{ColumnMoments, DistShardStats};

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernel::WORKGROUP_SIZE;
use crate::losses::checks::{check_finite, check_temperature, require_rank};
use crate::losses::common::{BatchCoupling, Inputs, Loss};
use crate::losses::registry::Entry;
use crate::plan::{
    check_binding, grid_2d, row_grid, ChunkIo, FinishUniform, Io, IoLayout, Plan, PlanEnv, Slot,
    MAX_GROUPS_PER_DIM,
};
use crate::tensor::LogitShape;
use kernels::DIST_COLUMN_MERGE;
use layout::{DistLayout, Statistics};

/// DIST's name, parameters and kernels.
pub const REGISTRATION: Entry<DistParams> = Entry {
    name: "dist",
    params: &["temperature", "beta", "gamma", "hard-weight", "soft-weight"],
    kernels: kernels::KERNELS,
    build: |v| {
        let d = DistParams::default();
        Ok(DistParams {
            temperature: v.number_or("temperature", d.temperature)?,
            beta: v.number_or("beta", d.beta)?,
            gamma: v.number_or("gamma", d.gamma)?,
            hard_weight: v.number_or("hard-weight", d.hard_weight)?,
            soft_weight: v.number_or("soft-weight", d.soft_weight)?,
        })
    },
};

/// Parameters of the DIST loss: `L = soft_weight · T² (beta · inter + gamma · intra)
/// + hard_weight · CE`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DistParams {
    /// Softmax temperature T (> 0).
    pub temperature: f64,
    /// Weight of the inter-class (row) relation.
    pub beta: f64,
    /// Weight of the intra-class (column) relation.
    pub gamma: f64,
    /// Weight of the hard-label cross-entropy on the raw student logits (SPEC, "The hard-label
    /// term"; needs labels, all in `[0, C)`). DIST's official recipe: 1, with `soft_weight` 2.
    pub hard_weight: f64,
    /// Weight of the DIST term.
    pub soft_weight: f64,
}

impl DistParams {
    /// DIST at temperature `temperature` with inter-class weight `beta` and intra-class weight
    /// `gamma`, no hard term.
    pub fn new(temperature: f64, beta: f64, gamma: f64) -> Self {
        Self {
            temperature,
            beta,
            gamma,
            ..Self::default()
        }
    }
}

setters!(DistParams {
    with_temperature(temperature: f64),
    with_beta(beta: f64),
    with_gamma(gamma: f64),
    /// The weight of the hard-label cross-entropy (needs labels).
    with_hard_weight(hard_weight: f64),
    with_soft_weight(soft_weight: f64),
});

impl Default for DistParams {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            beta: 1.0,
            gamma: 1.0,
            hard_weight: 0.0,
            soft_weight: 1.0,
        }
    }
}

/// Mirrors `DistParams` in the `dist_*.wgsl` shaders.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DistUniform {
    rows: u32,
    cols: u32,
    groups_x: u32,
    tile_rows: u32,
    inv_t: f32,
    inv_cols: f32,
    row_weight: f32,
    col_weight: f32,
    row_offset: u32,
    tile_offset: u32,
    tiles: u32,
    fold_loss: u32,
    hard: u32,
    hard_scale: f32,
    batch_rows: u32,
    _pad: u32,
}

/// Bytes of one `RowStats` in the shaders (max_s, max_t, mean_s, mean_t, 1/N, k, inv_sum_s,
/// inv_sum_t, and the hard term's hard_max, hard_inv_sum, label).
const ROW_STATS_BYTES: u64 = 44;

/// Bytes of one `ColumnMoments` in the shaders (count, pivot_s, pivot_t, mean_s, mean_t, m2_s,
/// m2_t, c_st; the means relative to the pivots).
pub(crate) const COLUMN_MOMENTS_BYTES: u64 = 32;

/// Bytes of the gradient pass's column statistics for `cols` columns: one vec4 per column
/// (pivot ys, pivot yt, 1/N, k), then one f32 per column (the pivots' shift), in vec4s.
fn col_stats_bytes(cols: usize) -> u64 {
    (cols + cols.div_ceil(4)) as u64 * 16
}

/// One block of rows bound at its own offsets (a single block unless the batch exceeds one
/// binding or the strategy forces chunks).
struct DistChunk {
    io: ChunkIo,
    tiles: usize,
    groups: [u32; 3],
    /// The gradient pass's grid (`grad_rows` rows per segment).
    grad_groups: [u32; 3],
    tile_groups: [u32; 3],
    uniform: Slot,
    /// `uniform` with the gradient grid's width (the same block when the grids agree).
    grad_uniform: Slot,
    tile_uniform: Slot,
}

/// Sizes, grids, scratch buffers and parameters of one DIST call, shared by the whole-batch
/// plan and the shard API. Two paths:
/// - fused (`Strategy::cached_rows = Some(true)`, C <= 256 × TILE_CACHE, rows held in
///   registers): `dist_tile` computes row and column statistics in one read of each input;
/// - streaming (the default, any C): `dist_rows` (two reads of each row, or one with
///   `Strategy::dist_row_reads = 1`), then `dist_column_partials`.
///
/// Then `dist_column_merge` over the tiles of every chunk, and `dist_grad` per chunk (whose
/// first workgroup also folds the loss when there is one chunk) or `finish`.
pub(crate) struct DistPasses {
    /// Kernels, lanes, tiles and grids.
    pub(crate) layout: DistLayout,
    chunks: Vec<DistChunk>,
    /// The hard-label term is on: each row's CE follows the inter and intra terms in
    /// `partials`.
    pub(crate) hard: bool,
    /// The labels (batch-indexed), or a placeholder without the hard term (never read then).
    labels: Slot,
    pub(crate) merge_uniform: Slot,
    row_stats: Slot,
    pub(crate) col_stats: Slot,
    pub(crate) partials: Slot,
    pub(crate) moments: Slot,
}

impl DistPasses {
    /// `total_rows` is the B the gradient's row weight divides by: the batch's own rows for a
    /// whole batch, the merged batch's rows for a shard.
    pub(crate) fn new(
        env: &PlanEnv,
        plan: &mut Plan,
        params: &DistParams,
        shape: LogitShape,
        total_rows: usize,
        io: &IoLayout,
    ) -> Result<Self> {
        let (rows, cols) = (shape.rows, shape.cols);
        let t2 = params.temperature * params.temperature;
        let soft_t2 = params.soft_weight * t2;
        let hard = params.hard_weight != 0.0;
        if hard && !io.labels {
            return Err(Error::Shape(
                "dist needs labels (one per row) for its hard-label term".into(),
            ));
        }
        let layout = DistLayout::new(
            &env.strategy,
            &env.tuning,
            rows,
            cols,
            io.quads_allowed(cols),
            io.has_grad(),
        )?;
        let (fused, tile_rows, grad_rows) = (layout.fused, layout.tile_rows, layout.grad_rows);
        let col_groups = layout.col_groups;
        let threads_per_row = layout.threads_per_row;
        let spans = env.row_chunks(rows, cols, io.dtype)?;
        let single = spans.len() == 1;
        let tiles_of = |len: usize| len.div_ceil(tile_rows);
        let total_tiles: usize = spans.iter().map(|&(_, len)| tiles_of(len)).sum();
        let moments_bytes = total_tiles as u64 * cols as u64 * COLUMN_MOMENTS_BYTES;
        check_binding(env, "DIST column moments", moments_bytes)?;
        check_binding(env, "DIST row statistics", rows as u64 * ROW_STATS_BYTES)?;
        let batch_rows = rows as u32;
        let uniform =
            |rows: usize, groups_x: u32, row_offset: usize, tile_offset: usize| DistUniform {
                rows: rows as u32,
                cols: cols as u32,
                groups_x,
                tile_rows: tile_rows as u32,
                inv_t: (1.0 / params.temperature) as f32,
                inv_cols: (1.0 / cols as f64) as f32,
                row_weight: (-soft_t2 * params.beta / total_rows as f64) as f32,
                col_weight: (-soft_t2 * params.gamma / cols as f64) as f32,
                row_offset: row_offset as u32,
                tile_offset: tile_offset as u32,
                tiles: total_tiles as u32,
                fold_loss: u32::from(single && total_rows == rows),
                hard: u32::from(hard),
                hard_scale: (params.hard_weight / total_rows as f64) as f32,
                batch_rows,
                _pad: 0,
            };
        let mut chunks = Vec::with_capacity(spans.len());
        let mut tile_offset = 0;
        for (start, len) in spans {
            let tiles = tiles_of(len);
            if !fused && tiles > MAX_GROUPS_PER_DIM as usize {
                return Err(Error::Limit(format!(
                    "B = {len} needs {tiles} column tiles of {tile_rows} rows, more than 65535"
                )));
            }
            let groups = row_grid(len, threads_per_row)?;
            let grad_groups = row_grid(len.div_ceil(grad_rows), threads_per_row)?;
            let tile_groups = grid_2d(tiles, "the DIST tile pass")?;
            chunks.push(DistChunk {
                io: ChunkIo {
                    layout: *io,
                    first: start,
                    rows: len,
                    cols,
                },
                tiles,
                groups,
                grad_groups,
                tile_groups,
                uniform: plan.params(&uniform(len, groups[0], start, tile_offset)),
                grad_uniform: plan.params(&uniform(len, grad_groups[0], start, tile_offset)),
                tile_uniform: plan.params(&uniform(len, tile_groups[0], start, tile_offset)),
            });
            tile_offset += tiles;
        }
        let no_labels = plan.scratch("dist.no_labels", 16);
        Ok(Self {
            layout,
            chunks,
            hard,
            labels: io.labels_or(no_labels),
            merge_uniform: plan.params(&uniform(rows, col_groups, 0, 0)),
            row_stats: plan.scratch("dist.row_stats", rows as u64 * ROW_STATS_BYTES),
            col_stats: plan.scratch("dist.col_stats", col_stats_bytes(cols)),
            partials: plan.scratch(
                "dist.partials",
                (rows + cols + if hard { rows } else { 0 }) as u64 * 4,
            ),
            moments: plan.scratch("dist.moments", moments_bytes),
        })
    }

    /// Whether the gradient pass folds the loss (one chunk: no separate finish).
    fn grad_folds_loss(&self) -> bool {
        self.chunks.len() == 1
    }

    /// Row statistics, inter terms (partials[0..B]) and per-tile column moments, per chunk:
    /// one fused dispatch, or the row pass and the column pass.
    pub(crate) fn statistics(&self, plan: &mut Plan) {
        for chunk in &self.chunks {
            let (rows, columns) = match self.layout.statistics {
                Statistics::Streaming { rows, columns } => (rows, columns),
                Statistics::Fused(tile) => {
                    plan.dispatch(
                        tile.kernel,
                        WORKGROUP_SIZE,
                        vec![
                            chunk.tile_uniform,
                            chunk.io.student(),
                            chunk.io.teacher(),
                            self.row_stats,
                            self.partials,
                            self.moments,
                            self.labels,
                        ],
                        chunk.tile_groups,
                    );
                    continue;
                }
            };
            plan.dispatch(
                rows.kernel,
                self.layout.threads_per_row,
                vec![
                    chunk.uniform,
                    chunk.io.student(),
                    chunk.io.teacher(),
                    self.row_stats,
                    self.partials,
                    self.labels,
                ],
                chunk.groups,
            );
            plan.dispatch(
                columns.kernel,
                WORKGROUP_SIZE,
                vec![
                    chunk.uniform,
                    chunk.io.student(),
                    chunk.io.teacher(),
                    self.row_stats,
                    self.moments,
                ],
                [self.layout.partial_groups, chunk.tiles as u32, 1],
            );
        }
    }

    /// Chan merge of every tile, column Pearson terms (partials[B..B+C]), col_stats.
    pub(crate) fn column_merge(&self, plan: &mut Plan) {
        plan.dispatch(
            DIST_COLUMN_MERGE,
            WORKGROUP_SIZE,
            vec![
                self.merge_uniform,
                self.moments,
                self.col_stats,
                self.partials,
            ],
            [self.layout.col_groups, 1, 1],
        );
    }

    /// The gradient of every chunk from row_stats and `col_stats` (none without a gradient);
    /// returns how many dispatches.
    pub(crate) fn grad(&self, plan: &mut Plan, col_stats: Slot) -> usize {
        let Some(grad) = self.layout.grad else {
            return 0;
        };
        let mut added = 0;
        for chunk in &self.chunks {
            if !chunk.io.layout.has_grad() {
                continue;
            }
            plan.dispatch(
                grad.kernel,
                self.layout.threads_per_row,
                vec![
                    chunk.grad_uniform,
                    chunk.io.student(),
                    chunk.io.teacher(),
                    self.row_stats,
                    col_stats,
                    chunk.io.grad_or(col_stats),
                    self.partials,
                    Slot::io(Io::Loss),
                ],
                chunk.grad_groups,
            );
            added += 1;
        }
        added
    }
}

/// How many times DIST's path under `env` at C = `cols` reads each input element (what
/// `tests/suite/traffic.rs` counts on every path), derived from its plan: each dispatch that
/// binds the inputs reads them as many times as its pass does (a four-aligned C on aligned
/// bindings, as the bench and the traffic tests bind them).
pub(crate) fn input_reads(env: &PlanEnv, cols: usize, want_grad: bool) -> u32 {
    let io = IoLayout::f32(want_grad);
    let params = DistParams::default();
    let (Ok(plan), Ok(layout)) = (
        plan(env, &params, &[1, cols], &io),
        DistLayout::new(&env.strategy, &env.tuning, 1, cols, true, want_grad),
    ) else {
        return 0;
    };
    plan_reads(&plan, &layout)
}

/// Reads of each input element by `plan`, pass by pass.
fn plan_reads(plan: &Plan, layout: &DistLayout) -> u32 {
    let passes = layout.passes();
    plan.dispatches
        .iter()
        .filter(|d| {
            d.bindings.iter().any(|s| {
                matches!(
                    s,
                    Slot::Io {
                        io: Io::Student,
                        ..
                    }
                )
            })
        })
        .map(|d| {
            passes
                .iter()
                .find(|p| p.kernel == d.kernel)
                .map_or(0, |p| p.input_reads)
        })
        .sum()
}

impl GpuContext {
    /// How many times DIST reads each input element at C = `cols` under this context's
    /// strategy (the bench reports it; `tests/suite/traffic.rs` checks it against counted
    /// loads).
    #[doc(hidden)]
    pub fn dist_input_reads(&self, cols: usize, want_grad: bool) -> u32 {
        input_reads(&self.plan_env(), cols, want_grad)
    }
}

/// The whole-batch plan: statistics, merge, gradient (folding the loss) or finish.
pub(crate) fn plan(
    env: &PlanEnv,
    params: &DistParams,
    dims: &[usize],
    io: &IoLayout,
) -> Result<Plan> {
    let shape = LogitShape::from_dims(dims)?;
    let mut plan = Plan::new("dist", io.precision());
    let passes = DistPasses::new(env, &mut plan, params, shape, shape.rows, io)?;
    let soft_t2 = params.soft_weight * params.temperature * params.temperature;
    let (rows, cols) = (passes.layout.rows, passes.layout.cols);
    let b = rows as f64;
    let finish = FinishUniform::triple([
        (rows, soft_t2 * params.beta / b),
        (cols, soft_t2 * params.gamma / cols as f64),
        (if passes.hard { rows } else { 0 }, params.hard_weight / b),
    ]);
    passes.statistics(&mut plan);
    passes.column_merge(&mut plan);
    let grads = passes.grad(&mut plan, passes.col_stats);
    if grads == 0 || !passes.grad_folds_loss() {
        plan.finish(finish, passes.partials);
    }
    Ok(plan)
}

impl Loss for DistParams {
    fn name(&self) -> &'static str {
        "dist"
    }

    fn batch_coupling(&self) -> BatchCoupling {
        BatchCoupling::ColumnMoments
    }

    fn takes_16_bit_inputs(&self) -> bool {
        true
    }

    fn needs_labels(&self) -> bool {
        self.hard_weight != 0.0
    }

    fn takes_labels(&self) -> bool {
        true
    }

    fn check_params(&self) -> Result<()> {
        check_temperature(self.temperature)?;
        check_finite("beta", self.beta)?;
        check_finite("gamma", self.gamma)?;
        crate::losses::checks::check_weights(self.soft_weight, self.hard_weight)
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        require_rank(self.name(), dims, 2, "B×C")
    }

    fn plan(&self, env: &PlanEnv, shape: &[usize], io: &IoLayout) -> Result<Plan> {
        plan(env, self, shape, io)
    }

    fn reference(
        &self,
        student: &[f64],
        teacher: &[f64],
        inputs: &Inputs<'_>,
    ) -> Result<(f64, Vec<f64>)> {
        let (rows, cols) = (inputs.shape[0], inputs.shape[1]);
        let soft = reference::dist(student, teacher, rows, cols, self);
        let (w_soft, w_hard) = (self.soft_weight, self.hard_weight);
        crate::losses::token::reference::with_hard_term(soft, student, inputs, w_soft, w_hard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Io;
    use crate::tuning::{AdapterClass, Tuning};

    /// DIST's plan, read with no adapter: its kernels in order, its scratch and its read count,
    /// on both classes of adapter, at two shapes.
    #[test]
    fn plans_without_an_adapter() {
        for class in [AdapterClass::CpuRasterizer, AdapterClass::Gpu] {
            let env = PlanEnv::new(*Tuning::for_class(class));
            for (rows, cols, want_grad) in [(64, 1000, true), (512, 32000, false)] {
                let io = IoLayout::f32(want_grad);
                let plan = plan(&env, &DistParams::default(), &[rows, cols], &io).unwrap();
                let layout =
                    DistLayout::new(&env.strategy, &env.tuning, rows, cols, true, want_grad)
                        .unwrap();
                let entries: Vec<_> = plan.kernels().map(|k| k.entry).collect();
                // Streaming statistics (rows, columns), the merge, then the gradient (which
                // folds the loss) or the finish.
                assert_eq!(entries.len(), 4, "{class:?} {rows}x{cols}: {entries:?}");
                assert_eq!(entries[2], DIST_COLUMN_MERGE.entry);
                assert_eq!(
                    entries[3],
                    if want_grad {
                        layout.grad.unwrap().kernel.entry
                    } else {
                        "finish"
                    }
                );
                assert_eq!(
                    plan.dispatches_binding(Io::Student),
                    if want_grad { 3 } else { 2 }
                );
                assert_eq!(plan.dispatches_binding(Io::Loss), 1);
                assert!(plan.scratch.iter().any(|(n, _)| *n == "dist.moments"));
                // The read count is the plan's, pass by pass, and matches the layout's sum.
                assert_eq!(plan_reads(&plan, &layout), layout.input_reads());
                assert_eq!(input_reads(&env, cols, want_grad), layout.input_reads());
            }
        }
        // The one-read row pass (docs/design.md): forward+grad reads each input 4 times on
        // a GPU (rows, columns, and twice in the gradient pass), forward alone 2.
        let gpu = PlanEnv::new(*Tuning::for_class(AdapterClass::Gpu));
        assert_eq!(input_reads(&gpu, 1000, true), 4);
        assert_eq!(input_reads(&gpu, 1000, false), 2);
    }
}
