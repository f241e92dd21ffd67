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

use crate::context::GpuContext;
use crate::error::{Error, Result};
use crate::losses::{
    check_finite, check_temperature, require_rank, BoundIo, Inputs, Loss, LossOutput, LossSpec,
};
use crate::record::{
    finish_dispatch, grid_2d, record_dispatches, resolve_dispatches, row_grid, whole, Dispatch,
    FinishUniform, Recording, MAX_GROUPS_PER_DIM,
};
use crate::shaders::WORKGROUP_SIZE;
use crate::tensor::LogitShape;
use kernels::{DIST_COLUMN_MERGE, DIST_COLUMN_REDUCE};
use layout::{DistLayout, Statistics};

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
const COLUMN_MOMENTS_BYTES: u64 = 32;

/// Bytes of the gradient pass's column statistics for `cols` columns: one vec4 per column
/// (pivot ys, pivot yt, 1/N, k), then one f32 per column (the pivots' shift), in vec4s.
fn col_stats_bytes(cols: usize) -> u64 {
    (cols + cols.div_ceil(4)) as u64 * 16
}

/// One block of rows bound at its own offsets (a single block unless the batch exceeds one
/// binding or the strategy forces chunks).
struct DistChunk<'a> {
    io: BoundIo<'a>,
    tiles: usize,
    groups: [u32; 3],
    /// The gradient pass's grid (`grad_rows` rows per segment).
    grad_groups: [u32; 3],
    tile_groups: [u32; 3],
    uniform: wgpu::Buffer,
    /// `uniform` with the gradient grid's width (the same block when the grids agree).
    grad_uniform: wgpu::Buffer,
    tile_uniform: wgpu::Buffer,
}

/// Sizes, grids, scratch buffers and parameters of one DIST call, shared by the whole-batch
/// recording and the shard API. Two paths:
/// - fused (`Strategy::cached_rows = Some(true)`, C <= 256 × TILE_CACHE, rows held in
///   registers): `dist_tile` computes row and column statistics in one read of each input;
/// - streaming (the default, any C): `dist_rows` (two reads of each row, or one with
///   `Strategy::dist_row_reads = 1`), then `dist_column_partials`.
///
/// Then `dist_column_merge` over the tiles of every chunk, and `dist_grad` per chunk (whose
/// first workgroup also folds the loss when there is one chunk) or `finish`.
struct DistPlan<'a> {
    /// Kernels, lanes, tiles and grids, decided without the device.
    layout: DistLayout,
    chunks: Vec<DistChunk<'a>>,
    /// The hard-label term is on: each row's CE follows the inter and intra terms in
    /// `partials`.
    hard: bool,
    /// The labels (batch-indexed), absent without the hard term.
    labels: Option<wgpu::BufferBinding<'a>>,
    /// Bound in the labels' place without them (the kernels then never read it).
    no_labels: wgpu::Buffer,
    merge_uniform: wgpu::Buffer,
    row_stats: wgpu::Buffer,
    col_stats: wgpu::Buffer,
    partials: wgpu::Buffer,
    moments: wgpu::Buffer,
}

impl<'a> DistPlan<'a> {
    /// `total_rows` is the B the gradient's row weight divides by: the batch's own rows for a
    /// whole batch, the merged batch's rows for a shard.
    fn new(
        ctx: &GpuContext,
        params: &DistParams,
        shape: LogitShape,
        total_rows: usize,
        io: &BoundIo<'a>,
    ) -> Result<Self> {
        let (rows, cols) = (shape.rows, shape.cols);
        let t2 = params.temperature * params.temperature;
        let soft_t2 = params.soft_weight * t2;
        let hard = params.hard_weight != 0.0;
        if hard && io.labels.is_none() {
            return Err(Error::Shape(
                "dist needs labels (one per row) for its hard-label term".into(),
            ));
        }
        let layout = DistLayout::new(
            &ctx.strategy(),
            ctx.tuning(),
            rows,
            cols,
            io.quads_allowed(cols),
            io.grad.is_some(),
        )?;
        let (fused, tile_rows, grad_rows) = (layout.fused, layout.tile_rows, layout.grad_rows);
        let col_groups = layout.col_groups;
        let threads_per_row = layout.threads_per_row;
        let spans = ctx.row_chunks(rows, cols, io.dtype)?;
        let single = spans.len() == 1;
        let tiles_of = |len: usize| len.div_ceil(tile_rows);
        let total_tiles: usize = spans.iter().map(|&(_, len)| tiles_of(len)).sum();
        let moments_bytes = total_tiles as u64 * cols as u64 * COLUMN_MOMENTS_BYTES;
        crate::tensor::check_binding_size(ctx, "DIST column moments", moments_bytes)?;
        crate::tensor::check_binding_size(
            ctx,
            "DIST row statistics",
            rows as u64 * ROW_STATS_BYTES,
        )?;
        let batch_rows = rows as u32;
        let uniform = |rows: usize, groups_x: u32, row_offset: usize, tile_offset: usize| {
            ctx.params_buffer(bytemuck::bytes_of(&DistUniform {
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
            }))
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
                io: io.chunk(start, len, cols),
                tiles,
                groups,
                grad_groups,
                tile_groups,
                uniform: uniform(len, groups[0], start, tile_offset)?,
                grad_uniform: uniform(len, grad_groups[0], start, tile_offset)?,
                tile_uniform: uniform(len, tile_groups[0], start, tile_offset)?,
            });
            tile_offset += tiles;
        }
        Ok(Self {
            layout,
            chunks,
            hard,
            labels: io.labels.clone(),
            no_labels: ctx.scratch("dist.no_labels", 16),
            merge_uniform: uniform(rows, col_groups, 0, 0)?,
            row_stats: ctx.scratch("dist.row_stats", rows as u64 * ROW_STATS_BYTES),
            col_stats: ctx.scratch("dist.col_stats", col_stats_bytes(cols)),
            partials: ctx.scratch(
                "dist.partials",
                (rows + cols + if hard { rows } else { 0 }) as u64 * 4,
            ),
            moments: ctx.scratch("dist.moments", moments_bytes),
        })
    }

    /// The labels' binding of the row (or tile) pass.
    fn labels(&self) -> wgpu::BindingResource<'_> {
        match &self.labels {
            Some(labels) => wgpu::BindingResource::Buffer(labels.clone()),
            None => whole(&self.no_labels),
        }
    }

    /// Whether the gradient pass folds the loss (one chunk: no separate finish).
    fn grad_folds_loss(&self) -> bool {
        self.chunks.len() == 1
    }

    /// Row statistics, inter terms (partials[0..B]) and per-tile column moments, per chunk:
    /// one fused dispatch, or the row pass and the column pass.
    fn statistics(&self) -> Vec<Dispatch<'_>> {
        let mut out = vec![];
        for chunk in &self.chunks {
            let (rows, columns) = match self.layout.statistics {
                Statistics::Streaming { rows, columns } => (rows, columns),
                Statistics::Fused(tile) => {
                    out.push(Dispatch {
                        kernel: tile.kernel,
                        threads_per_row: WORKGROUP_SIZE,
                        resources: vec![
                            whole(&chunk.tile_uniform),
                            chunk.io.student(),
                            chunk.io.teacher(),
                            whole(&self.row_stats),
                            whole(&self.partials),
                            whole(&self.moments),
                            self.labels(),
                        ],
                        groups: chunk.tile_groups,
                    });
                    continue;
                }
            };
            out.push(Dispatch {
                kernel: rows.kernel,
                threads_per_row: self.layout.threads_per_row,
                resources: vec![
                    whole(&chunk.uniform),
                    chunk.io.student(),
                    chunk.io.teacher(),
                    whole(&self.row_stats),
                    whole(&self.partials),
                    self.labels(),
                ],
                groups: chunk.groups,
            });
            out.push(Dispatch {
                kernel: columns.kernel,
                threads_per_row: WORKGROUP_SIZE,
                resources: vec![
                    whole(&chunk.uniform),
                    chunk.io.student(),
                    chunk.io.teacher(),
                    whole(&self.row_stats),
                    whole(&self.moments),
                ],
                groups: [self.layout.partial_groups, chunk.tiles as u32, 1],
            });
        }
        out
    }

    /// Chan merge of every tile, column Pearson terms (partials[B..B+C]), col_stats.
    fn column_merge(&self) -> Dispatch<'_> {
        Dispatch {
            kernel: DIST_COLUMN_MERGE,
            threads_per_row: WORKGROUP_SIZE,
            resources: vec![
                whole(&self.merge_uniform),
                whole(&self.moments),
                whole(&self.col_stats),
                whole(&self.partials),
            ],
            groups: [self.layout.col_groups, 1, 1],
        }
    }

    /// The gradient of every chunk from row_stats and `col_stats` (none without a gradient).
    fn grad<'b>(&'b self, col_stats: &'b wgpu::Buffer) -> Vec<Dispatch<'b>> {
        self.chunks
            .iter()
            .filter_map(|chunk| {
                let grad = chunk.io.grad.as_ref()?;
                Some(Dispatch {
                    kernel: self.layout.grad?.kernel,
                    threads_per_row: self.layout.threads_per_row,
                    resources: vec![
                        whole(&chunk.grad_uniform),
                        chunk.io.student(),
                        chunk.io.teacher(),
                        whole(&self.row_stats),
                        whole(col_stats),
                        wgpu::BindingResource::Buffer(grad.clone()),
                        whole(&self.partials),
                        wgpu::BindingResource::Buffer(chunk.io.loss()),
                    ],
                    groups: chunk.grad_groups,
                })
            })
            .collect()
    }
}

/// How many times DIST's path on `ctx` at C = `cols` reads each input element (what
/// `tests/suite/traffic.rs` counts on every path): the sum over the passes of its layout (a
/// four-aligned C on aligned bindings, as the bench and the traffic tests bind them).
pub(crate) fn input_reads(ctx: &GpuContext, cols: usize, want_grad: bool) -> u32 {
    DistLayout::new(
        &ctx.strategy(),
        ctx.tuning(),
        1,
        cols,
        cols.is_multiple_of(4),
        want_grad,
    )
    .map_or(0, |layout| layout.input_reads())
}

pub(crate) fn recording(
    ctx: &GpuContext,
    params: &DistParams,
    dims: &[usize],
    io: &BoundIo<'_>,
) -> Result<Recording> {
    let shape = LogitShape::from_dims(dims)?;
    let plan = DistPlan::new(ctx, params, shape, shape.rows, io)?;
    let soft_t2 = params.soft_weight * params.temperature * params.temperature;
    let (rows, cols) = (plan.layout.rows, plan.layout.cols);
    let b = rows as f64;
    let finish = ctx.params_buffer(bytemuck::bytes_of(&FinishUniform::triple([
        (rows, soft_t2 * params.beta / b),
        (cols, soft_t2 * params.gamma / cols as f64),
        (if plan.hard { rows } else { 0 }, params.hard_weight / b),
    ])))?;
    let mut dispatches = plan.statistics();
    dispatches.push(plan.column_merge());
    let grads = plan.grad(&plan.col_stats);
    let folded = !grads.is_empty() && plan.grad_folds_loss();
    dispatches.extend(grads);
    if !folded {
        dispatches.push(finish_dispatch(&finish, &plan.partials, io.loss()));
    }
    resolve_dispatches(ctx, "dist", dispatches, io.precision())
}

/// Sufficient statistics of one DIST column over a set of rows (float64 on the host). They
/// merge exactly across row chunks, shards and devices with Chan's pairwise formula.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ColumnMoments {
    pub count: f64,
    pub mean_s: f64,
    pub mean_t: f64,
    /// Σ (ys − mean_s)²
    pub m2_s: f64,
    /// Σ (yt − mean_t)²
    pub m2_t: f64,
    /// Σ (ys − mean_s)(yt − mean_t)
    pub c_st: f64,
}

impl ColumnMoments {
    /// Chan's pairwise merge.
    pub fn merge(&self, other: &Self) -> Self {
        if other.count == 0.0 {
            return *self;
        }
        if self.count == 0.0 {
            return *other;
        }
        let n = self.count + other.count;
        let w = other.count / n;
        let cross = self.count * w;
        let (ds, dt) = (other.mean_s - self.mean_s, other.mean_t - self.mean_t);
        Self {
            count: n,
            mean_s: self.mean_s + ds * w,
            mean_t: self.mean_t + dt * w,
            m2_s: self.m2_s + other.m2_s + ds * ds * cross,
            m2_t: self.m2_t + other.m2_t + dt * dt * cross,
            c_st: self.c_st + other.c_st + ds * dt * cross,
        }
    }

    /// The column's Pearson term and the gradient pass's coefficients
    /// `(mean ys, mean yt, 1/N, k)` (see `dist_merge.wgsl`, which keeps each mean as a
    /// pivot and a shift: `gpu_column_stats`).
    pub fn pearson(&self) -> (f64, [f64; 4]) {
        let norm_u = self.m2_s.max(0.0).sqrt();
        let norm_v = self.m2_t.max(0.0).sqrt();
        let n = norm_u * norm_v + 1e-8;
        let k = if norm_u > 0.0 {
            self.c_st * norm_v / (norm_u * n * n)
        } else {
            0.0
        };
        // v / N is 0 where |v| = 0 (see `v_weight` in dist_common.wgsl).
        let v_weight = if norm_v > 0.0 { 1.0 / n } else { 0.0 };
        (self.c_st / n, [self.mean_s, self.mean_t, v_weight, k])
    }
}

/// What one shard of a batch contributes to DIST: its row count, the sum of its rows' inter
/// terms `Σ (1 − ρ_b)`, the sum of its rows' cross-entropies (the hard-label term; 0 without
/// it), and its per-column moments. Merge the statistics of every shard (in
/// any grouping: the merge is exact up to rounding), then finish each shard with the merged
/// statistics. Move them between devices with your own collective (`to_f64s`/`from_f64s`).
#[derive(Clone, Debug, PartialEq)]
pub struct DistShardStats {
    pub rows: usize,
    pub inter_sum: f64,
    pub hard_sum: f64,
    pub columns: Vec<ColumnMoments>,
}

impl DistShardStats {
    /// Statistics of the union of two shards (same C).
    pub fn merge(&self, other: &Self) -> Result<Self> {
        if self.columns.len() != other.columns.len() {
            return Err(Error::Shape(format!(
                "cannot merge DIST statistics of C = {} and C = {}",
                self.columns.len(),
                other.columns.len()
            )));
        }
        Ok(Self {
            rows: self.rows + other.rows,
            inter_sum: self.inter_sum + other.inter_sum,
            hard_sum: self.hard_sum + other.hard_sum,
            columns: self
                .columns
                .iter()
                .zip(&other.columns)
                .map(|(a, b)| a.merge(b))
                .collect(),
        })
    }

    /// The DIST loss of the merged batch these statistics describe.
    pub fn loss(&self, params: &DistParams) -> f64 {
        let t2 = params.temperature * params.temperature;
        let c = self.columns.len() as f64;
        let intra: f64 = self
            .columns
            .iter()
            .map(|m| 1.0 - m.pearson().0)
            .sum::<f64>()
            / c;
        let rows = self.rows as f64;
        let soft = t2 * (params.beta * self.inter_sum / rows + params.gamma * intra);
        params.soft_weight * soft + params.hard_weight * self.hard_sum / rows
    }

    /// Flat float64 form for a collective: `[rows, inter_sum, hard_sum, then 6 per column]`.
    pub fn to_f64s(&self) -> Vec<f64> {
        let mut out = vec![self.rows as f64, self.inter_sum, self.hard_sum];
        for m in &self.columns {
            out.extend([m.count, m.mean_s, m.mean_t, m.m2_s, m.m2_t, m.c_st]);
        }
        out
    }

    /// Inverse of [`DistShardStats::to_f64s`].
    pub fn from_f64s(values: &[f64]) -> Result<Self> {
        if values.len() < 3 + 6 || !(values.len() - 3).is_multiple_of(6) {
            return Err(Error::Shape(format!(
                "{} floats are not DIST shard statistics (3 + 6 per column, C >= 1)",
                values.len()
            )));
        }
        Ok(Self {
            rows: values[0] as usize,
            inter_sum: values[1],
            hard_sum: values[2],
            columns: values[3..]
                .chunks_exact(6)
                .map(|c| ColumnMoments {
                    count: c[0],
                    mean_s: c[1],
                    mean_t: c[2],
                    m2_s: c[3],
                    m2_t: c[4],
                    c_st: c[5],
                })
                .collect(),
        })
    }
}

/// The GPU layout of `ColumnMoments` in the shaders (the means relative to the pivots).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GpuColumnMoments {
    count: u32,
    pivot_s: f32,
    pivot_t: f32,
    mean_s: f32,
    mean_t: f32,
    m2_s: f32,
    m2_t: f32,
    c_st: f32,
}

/// The gradient pass's column statistics from float64 moments, laid out as
/// `dist_merge.wgsl` writes them: per column (pivot ys, pivot yt, 1/N, k) with the
/// pivots the f32-rounded means, then each column's shift `k·Δs − Δt/N`, where Δ is what that
/// rounding left out (so the centred values are exact to f32, as on the GPU).
fn gpu_column_stats(columns: &[ColumnMoments]) -> Vec<f32> {
    let mut stats = Vec::with_capacity(columns.len() * 4 + columns.len().div_ceil(4) * 4);
    let mut shifts = Vec::with_capacity(columns.len().div_ceil(4) * 4);
    for m in columns {
        let [mean_s, mean_t, v_weight, k] = m.pearson().1;
        let (pivot_s, pivot_t) = (mean_s as f32, mean_t as f32);
        stats.extend([pivot_s, pivot_t, v_weight as f32, k as f32]);
        let shift = k * (mean_s - f64::from(pivot_s)) - v_weight * (mean_t - f64::from(pivot_t));
        shifts.push(shift as f32);
    }
    shifts.resize(columns.len().div_ceil(4) * 4, 0.0);
    stats.extend(shifts);
    stats
}

impl GpuContext {
    /// DIST statistics of one shard (a contiguous block of a batch's rows) on this device.
    pub fn dist_shard_stats(
        &self,
        params: &DistParams,
        inputs: &Inputs<'_>,
    ) -> Result<DistShardStats> {
        let spec = LossSpec::Dist(*params);
        inputs.check(&spec)?;
        let shape = LogitShape::from_dims(inputs.shape)?;
        let (student, teacher) = self.upload_pair(inputs)?;
        let labels = self.upload_labels(inputs)?;
        let unused_loss = self.scratch("unused loss", 16);
        let mut io = BoundIo::whole(&student, &teacher, &unused_loss, None);
        io.labels = labels.as_ref().map(|l| l.as_entire_buffer_binding());
        let plan = DistPlan::new(self, params, shape, shape.rows, &io)?;
        let merged = self.scratch("dist.merged", shape.cols as u64 * COLUMN_MOMENTS_BYTES);
        let mut encoder = self.device().create_command_encoder(&Default::default());
        let reduce = Dispatch {
            kernel: DIST_COLUMN_REDUCE,
            threads_per_row: WORKGROUP_SIZE,
            resources: vec![
                whole(&plan.merge_uniform),
                whole(&plan.moments),
                whole(&merged),
            ],
            groups: [plan.layout.col_groups, 1, 1],
        };
        let mut dispatches = plan.statistics();
        dispatches.push(reduce);
        let recorded = record_dispatches(
            self,
            &mut encoder,
            "dist shard stats",
            dispatches,
            io.precision(),
        );
        let transient: Vec<&wgpu::Buffer> =
            [&student, &teacher].into_iter().chain(&labels).collect();
        self.forget_bind_groups_of(&transient);
        recorded?;
        // The inter terms, each row's CE (with the hard term), the merged column moments.
        let partial_bytes = shape.rows as u64 * 4;
        let hard_bytes = if plan.hard { partial_bytes } else { 0 };
        let moment_bytes = shape.cols as u64 * COLUMN_MOMENTS_BYTES;
        let staging = self.staging(partial_bytes + hard_bytes + moment_bytes)?;
        encoder.copy_buffer_to_buffer(&plan.partials, 0, &staging, 0, partial_bytes);
        if plan.hard {
            let ce_offset = (shape.rows + shape.cols) as u64 * 4;
            encoder.copy_buffer_to_buffer(
                &plan.partials,
                ce_offset,
                &staging,
                partial_bytes,
                hard_bytes,
            );
        }
        encoder.copy_buffer_to_buffer(
            &merged,
            0,
            &staging,
            partial_bytes + hard_bytes,
            moment_bytes,
        );
        let index = self.queue().submit([encoder.finish()]);
        let bytes = self.read_back(&staging, index)?;
        let (partials, rest) = bytes.split_at(partial_bytes as usize);
        let (cross_entropies, moments) = rest.split_at(hard_bytes as usize);
        let sum = |bytes: &[u8]| -> f64 {
            crate::tensor::f32s_from_le(bytes)
                .into_iter()
                .map(f64::from)
                .sum()
        };
        let inter_sum = sum(partials);
        let hard_sum = sum(cross_entropies);
        let columns = moments
            .chunks_exact(COLUMN_MOMENTS_BYTES as usize)
            .map(|c| {
                let m: GpuColumnMoments = bytemuck::pod_read_unaligned(c);
                ColumnMoments {
                    count: f64::from(m.count),
                    mean_s: f64::from(m.pivot_s) + f64::from(m.mean_s),
                    mean_t: f64::from(m.pivot_t) + f64::from(m.mean_t),
                    m2_s: f64::from(m.m2_s),
                    m2_t: f64::from(m.m2_t),
                    c_st: f64::from(m.c_st),
                }
            })
            .collect();
        Ok(DistShardStats {
            rows: shape.rows,
            inter_sum,
            hard_sum,
            columns,
        })
    }

    /// Finishes one shard with the statistics merged over the whole batch: the whole batch's
    /// loss and this shard's rows of the gradient (when `want_grad`).
    pub fn dist_shard_finish(
        &self,
        params: &DistParams,
        inputs: &Inputs<'_>,
        merged: &DistShardStats,
        want_grad: bool,
    ) -> Result<LossOutput> {
        let spec = LossSpec::Dist(*params);
        inputs.check(&spec)?;
        let shape = LogitShape::from_dims(inputs.shape)?;
        if merged.columns.len() != shape.cols || merged.rows < shape.rows {
            return Err(Error::Shape(format!(
                "merged statistics describe {} rows of C = {}, not a batch holding this {}×{} shard",
                merged.rows,
                merged.columns.len(),
                shape.rows,
                shape.cols
            )));
        }
        let loss = merged.loss(params) as f32;
        if !want_grad {
            return Ok(LossOutput { loss, grad: None });
        }
        let coefficients = gpu_column_stats(&merged.columns);
        let col_stats = self.upload(
            "dist merged column statistics",
            bytemuck::cast_slice(&coefficients),
        )?;
        let (student, teacher) = self.upload_pair(inputs)?;
        let labels = self.upload_labels(inputs)?;
        let bytes = shape.elements() as u64 * 4;
        let grad = self.output_buffer("gradient", bytes)?;
        let unused_loss = self.scratch("unused loss", 16);
        let mut io = BoundIo::whole(&student, &teacher, &unused_loss, Some(&grad));
        io.labels = labels.as_ref().map(|l| l.as_entire_buffer_binding());
        let plan = DistPlan::new(self, params, shape, merged.rows, &io)?;
        let mut encoder = self.device().create_command_encoder(&Default::default());
        let mut dispatches = plan.statistics();
        dispatches.extend(plan.grad(&col_stats));
        let recorded = record_dispatches(
            self,
            &mut encoder,
            "dist shard gradient",
            dispatches,
            io.precision(),
        );
        let transient: Vec<&wgpu::Buffer> = [&col_stats, &student, &teacher, &grad]
            .into_iter()
            .chain(&labels)
            .collect();
        self.forget_bind_groups_of(&transient);
        recorded?;
        let staging = self.staging(bytes)?;
        encoder.copy_buffer_to_buffer(&grad, 0, &staging, 0, bytes);
        let index = self.queue().submit([encoder.finish()]);
        let bytes = self.read_back(&staging, index)?;
        let grad = crate::tensor::f32s_from_le(&bytes);
        Ok(LossOutput {
            loss,
            grad: Some(grad),
        })
    }
}

impl Loss for DistParams {
    fn name(&self) -> &'static str {
        "dist"
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
        crate::reference::token::check_weights(self.soft_weight, self.hard_weight)
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        require_rank(self.name(), dims, 2, "B×C")
    }

    fn recording(&self, ctx: &GpuContext, shape: &[usize], io: &BoundIo<'_>) -> Result<Recording> {
        recording(ctx, self, shape, io)
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
        crate::reference::with_hard_term(soft, student, inputs, w_soft, w_hard)
    }
}
