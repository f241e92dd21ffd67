//! DIST across shards: the statistics of one shard (row terms, column moments) merge exactly
//! over shards and devices (Chan's pairwise formula), and each shard then finishes its rows of
//! the gradient with the merged batch's statistics.

use super::kernels::DIST_COLUMN_REDUCE;
use super::{DistParams, DistPasses, COLUMN_MOMENTS_BYTES};
use crate::error::{Error, Result};
use crate::gpu::{BoundIo, GpuContext};
use crate::kernel::WORKGROUP_SIZE;
use crate::losses::common::{Inputs, LossOutput};
use crate::plan::{Io, Plan, Slot};
use crate::tensor::LogitShape;

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

/// One shard's inputs on the device, uploaded once for its statistics and its gradient.
pub(crate) struct UploadedShard {
    student: wgpu::Buffer,
    teacher: wgpu::Buffer,
    labels: Option<wgpu::Buffer>,
    shape: LogitShape,
}

impl UploadedShard {
    /// The shard's inputs bound whole, beside `loss` and `grad`.
    fn io<'a>(&'a self, loss: &'a wgpu::Buffer, grad: Option<&'a wgpu::Buffer>) -> BoundIo<'a> {
        let mut io = BoundIo::whole(&self.student, &self.teacher, loss, grad);
        io.labels = self.labels.as_ref().map(|l| l.as_entire_buffer_binding());
        io
    }

    /// The shard's buffers with `more`: what the bind-group cache must forget after a call.
    fn buffers<'a>(&'a self, more: &[&'a wgpu::Buffer]) -> Vec<&'a wgpu::Buffer> {
        let mine = [&self.student, &self.teacher].into_iter();
        mine.chain(&self.labels)
            .chain(more.iter().copied())
            .collect()
    }
}

impl GpuContext {
    /// DIST statistics of one shard (a contiguous block of a batch's rows) on this device.
    pub fn dist_shard_stats(
        &self,
        params: &DistParams,
        inputs: &Inputs<'_>,
    ) -> Result<DistShardStats> {
        let shard = self.upload_shard(params, inputs)?;
        self.shard_stats(params, &shard)
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
        inputs.check_for(params)?;
        let shape = LogitShape::from_dims(inputs.shape)?;
        check_merged(merged, shape)?;
        let loss = merged.loss(params) as f32;
        if !want_grad {
            return Ok(LossOutput::new(loss, None));
        }
        let shard = self.upload_shard(params, inputs)?;
        let grad = self.shard_grad(params, &shard, merged)?;
        Ok(LossOutput::new(loss, Some(grad)))
    }

    /// Checks `inputs` for DIST and uploads them.
    pub(crate) fn upload_shard(
        &self,
        params: &DistParams,
        inputs: &Inputs<'_>,
    ) -> Result<UploadedShard> {
        inputs.check_for(params)?;
        let shape = LogitShape::from_dims(inputs.shape)?;
        let (student, teacher) = self.upload_pair(inputs)?;
        let labels = self.upload_labels(inputs)?;
        Ok(UploadedShard {
            student,
            teacher,
            labels,
            shape,
        })
    }

    /// The statistics of an uploaded shard (one submit, one readback).
    pub(crate) fn shard_stats(
        &self,
        params: &DistParams,
        shard: &UploadedShard,
    ) -> Result<DistShardStats> {
        let shape = shard.shape;
        let unused_loss = self.scratch("unused loss", 16);
        let io = shard.io(&unused_loss, None);
        let env = self.plan_env();
        let layout = io.layout();
        let mut plan = Plan::new("dist shard stats", layout.precision());
        let passes = DistPasses::new(&env, &mut plan, params, shape, shape.rows, &layout)?;
        let merged_bytes = shape.cols as u64 * COLUMN_MOMENTS_BYTES;
        let merged = plan.scratch("dist.merged", merged_bytes);
        passes.statistics(&mut plan);
        plan.dispatch(
            DIST_COLUMN_REDUCE,
            WORKGROUP_SIZE,
            vec![passes.merge_uniform, passes.moments, merged],
            [passes.layout.col_groups, 1, 1],
        );
        let mut encoder = self.device().create_command_encoder(&Default::default());
        let recorded = self.record_plan(&mut encoder, None, || Ok(plan), &io, "dist shard stats");
        self.forget_bind_groups_of(&shard.buffers(&[]));
        recorded?;
        // The inter terms, each row's CE (with the hard term), the merged column moments.
        let partial_bytes = shape.rows as u64 * 4;
        let hard_bytes = if passes.hard { partial_bytes } else { 0 };
        let partials = self.scratch("dist.partials", partial_bytes);
        let merged = self.scratch("dist.merged", merged_bytes);
        let moment_bytes = shape.cols as u64 * COLUMN_MOMENTS_BYTES;
        let staging = self.staging(partial_bytes + hard_bytes + moment_bytes)?;
        encoder.copy_buffer_to_buffer(&partials, 0, &staging, 0, partial_bytes);
        if passes.hard {
            let ce_offset = (shape.rows + shape.cols) as u64 * 4;
            encoder.copy_buffer_to_buffer(
                &partials,
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

    /// This shard's rows of the gradient of the batch `merged` describes.
    pub(crate) fn shard_grad(
        &self,
        params: &DistParams,
        shard: &UploadedShard,
        merged: &DistShardStats,
    ) -> Result<Vec<f32>> {
        let shape = shard.shape;
        check_merged(merged, shape)?;
        let coefficients = gpu_column_stats(&merged.columns);
        let col_stats = self.upload(
            "dist merged column statistics",
            bytemuck::cast_slice(&coefficients),
        )?;
        let bytes = shape.elements() as u64 * 4;
        let grad = self.output_buffer("gradient", bytes)?;
        let unused_loss = self.scratch("unused loss", 16);
        let mut io = shard.io(&unused_loss, Some(&grad));
        io.extra.push(col_stats.as_entire_buffer_binding());
        let env = self.plan_env();
        let layout = io.layout();
        let mut plan = Plan::new("dist shard gradient", layout.precision());
        let passes = DistPasses::new(&env, &mut plan, params, shape, merged.rows, &layout)?;
        passes.statistics(&mut plan);
        passes.grad(&mut plan, Slot::io(Io::Extra(0)));
        let mut encoder = self.device().create_command_encoder(&Default::default());
        let recorded =
            self.record_plan(&mut encoder, None, || Ok(plan), &io, "dist shard gradient");
        self.forget_bind_groups_of(&shard.buffers(&[&col_stats, &grad]));
        recorded?;
        let staging = self.staging(bytes)?;
        encoder.copy_buffer_to_buffer(&grad, 0, &staging, 0, bytes);
        let index = self.queue().submit([encoder.finish()]);
        let bytes = self.read_back(&staging, index)?;
        Ok(crate::tensor::f32s_from_le(&bytes))
    }
}

/// The merged statistics must describe a batch holding the shard.
fn check_merged(merged: &DistShardStats, shape: LogitShape) -> Result<()> {
    if merged.columns.len() != shape.cols || merged.rows < shape.rows {
        return Err(Error::Shape(format!(
            "merged statistics describe {} rows of C = {}, not a batch holding this {}×{} shard",
            merged.rows,
            merged.columns.len(),
            shape.rows,
            shape.cols
        )));
    }
    Ok(())
}
