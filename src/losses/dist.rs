//! DIST: Pearson inter-class (per row) and intra-class (per column, over the batch) relations
//! of the softmax outputs ("Knowledge Distillation from A Stronger Teacher").
//!
//! Shaders, in dispatch order: `dist_rows.wgsl` (row softmax statistics, inter term),
//! `dist_columns.wgsl` (per-tile column moments), `dist_merge.wgsl` (Chan merge, intra term),
//! `dist_grad.wgsl` (gradient, only when asked), `finish.wgsl` (the scalar loss).
//! Reference: `src/reference/dist.rs`.

use crate::context::GpuContext;
use crate::error::{Error, Result};
use crate::losses::BoundIo;
use crate::record::{
    column_groups, finish_dispatch, record_dispatches, row_grid, whole, Dispatch, FinishUniform,
    MAX_GROUPS_PER_DIM,
};
use crate::shaders::{
    DIST_COLUMN_MERGE, DIST_COLUMN_PARTIALS, DIST_GRAD, DIST_ROWS, WORKGROUP_SIZE,
};
use crate::tensor::LogitShape;

/// Parameters of the DIST loss: `L = T² (beta · inter + gamma · intra)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DistParams {
    /// Softmax temperature T (> 0).
    pub temperature: f64,
    /// Weight of the inter-class (row) relation.
    pub beta: f64,
    /// Weight of the intra-class (column) relation.
    pub gamma: f64,
}

impl Default for DistParams {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            beta: 1.0,
            gamma: 1.0,
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
}

/// Bytes of one `RowStats` in the shaders (lse_s, lse_t, mean_s, mean_t, 1/N, k, 2 pads).
const ROW_STATS_BYTES: u64 = 32;

/// Bytes of one `ColumnMoments` in the shaders (count, mean_s, mean_t, m2_s, m2_t, c_st).
const COLUMN_MOMENTS_BYTES: u64 = 24;

pub(crate) fn record(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    params: &DistParams,
    dims: &[usize],
    io: &BoundIo<'_>,
) -> Result<()> {
    let shape = LogitShape::from_dims(dims)?;
    let (rows, cols) = (shape.rows, shape.cols);
    let t = params.temperature;
    let t2 = t * t;
    let strategy = ctx.strategy();
    let threads_per_row = ctx.threads_per_row(cols);
    let tile_rows = strategy.tile_rows_for(rows);
    let tiles = rows.div_ceil(tile_rows as usize);
    if tiles > MAX_GROUPS_PER_DIM as usize {
        return Err(Error::Limit(format!(
            "B = {rows} needs {tiles} column tiles of {tile_rows} rows, more than 65535"
        )));
    }
    let groups = row_grid(rows, threads_per_row)?;
    let col_groups = column_groups(cols)?;
    let moments_bytes = tiles as u64 * cols as u64 * COLUMN_MOMENTS_BYTES;
    crate::tensor::check_binding_size(ctx, "DIST column moments", moments_bytes)?;
    crate::tensor::check_binding_size(ctx, "DIST row statistics", rows as u64 * ROW_STATS_BYTES)?;

    let row_stats = ctx.scratch("dist.row_stats", rows as u64 * ROW_STATS_BYTES);
    let col_stats = ctx.scratch("dist.col_stats", cols as u64 * 16);
    let partials = ctx.scratch("dist.partials", (rows + cols) as u64 * 4);
    let moments = ctx.scratch("dist.moments", moments_bytes);
    let uniform = ctx.params_buffer(bytemuck::bytes_of(&DistUniform {
        rows: rows as u32,
        cols: cols as u32,
        groups_x: groups[0],
        tile_rows,
        inv_t: (1.0 / t) as f32,
        inv_cols: (1.0 / cols as f64) as f32,
        row_weight: (-t2 * params.beta / rows as f64) as f32,
        col_weight: (-t2 * params.gamma / cols as f64) as f32,
    }));
    let finish = ctx.params_buffer(bytemuck::bytes_of(&FinishUniform::pair(
        rows,
        t2 * params.beta / rows as f64,
        cols,
        t2 * params.gamma / cols as f64,
    )));
    let student = || io.student();
    let teacher = || io.teacher();

    let mut dispatches = vec![
        Dispatch {
            kernel: DIST_ROWS,
            threads_per_row,
            resources: vec![
                whole(&uniform),
                student(),
                teacher(),
                whole(&row_stats),
                whole(&partials),
            ],
            groups,
        },
        Dispatch {
            kernel: DIST_COLUMN_PARTIALS,
            threads_per_row: WORKGROUP_SIZE,
            resources: vec![
                whole(&uniform),
                student(),
                teacher(),
                whole(&row_stats),
                whole(&moments),
            ],
            groups: [col_groups, tiles as u32, 1],
        },
        Dispatch {
            kernel: DIST_COLUMN_MERGE,
            threads_per_row: WORKGROUP_SIZE,
            resources: vec![
                whole(&uniform),
                whole(&moments),
                whole(&col_stats),
                whole(&partials),
            ],
            groups: [col_groups, 1, 1],
        },
    ];
    if let Some(grad) = &io.grad {
        dispatches.push(Dispatch {
            kernel: DIST_GRAD,
            threads_per_row,
            resources: vec![
                whole(&uniform),
                student(),
                teacher(),
                whole(&row_stats),
                whole(&col_stats),
                wgpu::BindingResource::Buffer(grad.clone()),
            ],
            groups,
        });
    }
    dispatches.push(finish_dispatch(&finish, &partials, io.loss()));
    record_dispatches(ctx, encoder, "dist", dispatches, None)
}
