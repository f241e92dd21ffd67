//! Recording: turns a list of dispatches (kernel, strategy, bindings, grid) into one compute pass
//! in the caller's encoder, with every wgpu error captured by an error scope.

use crate::context::{BindGroupKey, CachedPipeline, GpuContext};
use crate::error::{Error, Result};
use crate::shaders::{Kernel, WORKGROUP_SIZE};
use crate::tensor::Precision;

/// Most workgroups in one grid dimension.
pub(crate) const MAX_GROUPS_PER_DIM: u32 = 65535;

/// One dispatch of a kernel.
pub(crate) struct Dispatch<'a> {
    pub kernel: Kernel,
    pub threads_per_row: u32,
    pub resources: Vec<wgpu::BindingResource<'a>>,
    pub groups: [u32; 3],
}

/// A 2D grid of workgroups covering `count` workgroups (x first, then y), as `segment_row`
/// in `lib/reduce.wgsl` expects.
pub(crate) fn grid_2d(count: usize, what: &str) -> Result<[u32; 3]> {
    let count = count.max(1);
    let x = count.min(MAX_GROUPS_PER_DIM as usize);
    let y = count.div_ceil(x);
    if y > MAX_GROUPS_PER_DIM as usize {
        return Err(Error::Limit(format!(
            "{what} needs {count} workgroups, more than 65535 x 65535"
        )));
    }
    Ok([x as u32, y as u32, 1])
}

/// Grid for a row kernel: `rows` rows, `threads_per_row` lanes each.
pub(crate) fn row_grid(rows: usize, threads_per_row: u32) -> Result<[u32; 3]> {
    let rows_per_group = (WORKGROUP_SIZE / threads_per_row) as usize;
    grid_2d(rows.div_ceil(rows_per_group), "the row pass")
}

/// Grid for one invocation per element of `count` (indexed by `flat_index` in
/// `lib/reduce.wgsl`).
pub(crate) fn flat_grid(count: usize, what: &str) -> Result<[u32; 3]> {
    grid_2d(count.div_ceil(WORKGROUP_SIZE as usize), what)
}

/// Grid dimension for one lane per column.
pub(crate) fn column_groups(cols: usize) -> Result<u32> {
    let groups = cols.div_ceil(WORKGROUP_SIZE as usize);
    if groups > MAX_GROUPS_PER_DIM as usize {
        return Err(Error::Limit(format!(
            "C = {cols} needs {groups} workgroups of columns, more than 65535"
        )));
    }
    Ok(groups as u32)
}

/// A buffer bound whole.
pub(crate) fn whole(buffer: &wgpu::Buffer) -> wgpu::BindingResource<'_> {
    buffer.as_entire_binding()
}

/// A call's dispatches with their pipelines and bind groups resolved: what a compute pass
/// needs and nothing more. A context keeps the recordings of recent calls (by loss, shape,
/// precision and bound buffer ranges), so that a training step repeating its call replays one
/// instead of planning it again: most of the CPU time of a call went to planning, not to wgpu.
pub(crate) struct Recording {
    pub label: &'static str,
    pub steps: Vec<Step>,
}

/// One dispatch, resolved.
pub(crate) struct Step {
    pub entry: &'static str,
    pub pipeline: std::sync::Arc<CachedPipeline>,
    pub bind_group: wgpu::BindGroup,
    pub groups: [u32; 3],
}

/// Resolves `dispatches` (pipelines with `precision`'s inputs for the kernels that read them,
/// and its gradient for the quad kernels; bind groups, cached) into a recording. Call it
/// inside an error scope: a bind group can be invalid.
pub(crate) fn resolve_dispatches(
    ctx: &GpuContext,
    label: &'static str,
    dispatches: Vec<Dispatch<'_>>,
    precision: Precision,
) -> Result<Recording> {
    let mut steps = Vec::with_capacity(dispatches.len());
    for d in &dispatches {
        let pipeline = ctx.pipeline(&d.kernel, d.threads_per_row, precision)?;
        let bind_group = ctx.bind_group(BindGroupKey::new(&pipeline, &d.resources), || {
            let entries: Vec<_> = d
                .resources
                .iter()
                .enumerate()
                .map(|(i, r)| wgpu::BindGroupEntry {
                    binding: i as u32,
                    resource: r.clone(),
                })
                .collect();
            ctx.device().create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(d.kernel.entry),
                layout: &pipeline.layout,
                entries: &entries,
            })
        });
        steps.push(Step {
            entry: d.kernel.entry,
            pipeline,
            bind_group,
            groups: d.groups,
        });
    }
    Ok(Recording { label, steps })
}

/// Records `recording`, in order, as one compute pass of `encoder` (one pass per dispatch,
/// between timestamps, while `bench --per-dispatch` has armed the timer); returns how many
/// dispatches. Call it inside an error scope: the pass is validated when it ends.
pub(crate) fn replay(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    recording: &Recording,
) -> usize {
    let record_one = |pass: &mut wgpu::ComputePass<'_>, step: &Step| {
        pass.set_pipeline(&step.pipeline.pipeline);
        pass.set_bind_group(0, &step.bind_group, &[]);
        if step.pipeline.counted {
            pass.set_bind_group(1, ctx.load_counter_group(), &[]);
        }
        pass.dispatch_workgroups(step.groups[0], step.groups[1], step.groups[2]);
    };
    if ctx.dispatch_timer_armed() {
        for step in &recording.steps {
            let stamps = ctx.next_dispatch_timestamps(step.entry);
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(step.entry),
                timestamp_writes: stamps.as_ref().map(|(queries, index)| {
                    wgpu::ComputePassTimestampWrites {
                        query_set: queries,
                        beginning_of_pass_write_index: Some(*index),
                        end_of_pass_write_index: Some(index + 1),
                    }
                }),
            });
            record_one(&mut pass, step);
        }
    } else {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(recording.label),
            timestamp_writes: None,
        });
        for step in &recording.steps {
            record_one(&mut pass, step);
        }
    }
    recording.steps.len()
}

/// Resolves and records `dispatches` in one error scope (calls that are not cached: the
/// sharded DIST paths); returns how many.
pub(crate) fn record_dispatches(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    label: &'static str,
    dispatches: Vec<Dispatch<'_>>,
    precision: Precision,
) -> Result<usize> {
    let recorded = ctx.scoped(label, || {
        let recording = resolve_dispatches(ctx, label, dispatches, precision)?;
        Ok(replay(ctx, encoder, &recording))
    });
    // A bind group made in a failed scope may be invalid: keep none of them.
    if recorded.is_err() {
        ctx.release_cached_bind_groups();
    }
    recorded
}

/// Parameters of `finish.wgsl`: loss = scale0 * sum(first n0) + scale1 * sum(next n1).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct FinishUniform {
    pub n0: u32,
    pub n1: u32,
    pub n2: u32,
    pub _pad: u32,
    pub scale0: f32,
    pub scale1: f32,
    pub scale2: f32,
    pub _pad2: f32,
}

impl FinishUniform {
    /// `loss = scale · sum(partials[0 .. n])`.
    pub(crate) fn single(n: usize, scale: f64) -> Self {
        Self::pair(n, scale, 0, 0.0)
    }

    /// `loss = scale0 · sum(first n0) + scale1 · sum(next n1)`.
    pub(crate) fn pair(n0: usize, scale0: f64, n1: usize, scale1: f64) -> Self {
        Self::triple([(n0, scale0), (n1, scale1), (0, 0.0)])
    }

    /// `loss = Σ_i scale_i · sum(block i)` over three consecutive blocks `(n_i, scale_i)`.
    pub(crate) fn triple(blocks: [(usize, f64); 3]) -> Self {
        Self {
            n0: blocks[0].0 as u32,
            n1: blocks[1].0 as u32,
            n2: blocks[2].0 as u32,
            _pad: 0,
            scale0: blocks[0].1 as f32,
            scale1: blocks[1].1 as f32,
            scale2: blocks[2].1 as f32,
            _pad2: 0.0,
        }
    }
}

/// The finishing dispatch: folds `partials` into `loss`.
pub(crate) fn finish_dispatch<'a>(
    params: &'a wgpu::Buffer,
    partials: &'a wgpu::Buffer,
    loss: wgpu::BufferBinding<'a>,
) -> Dispatch<'a> {
    Dispatch {
        kernel: crate::shaders::FINISH,
        threads_per_row: WORKGROUP_SIZE,
        resources: vec![
            whole(params),
            whole(partials),
            wgpu::BindingResource::Buffer(loss),
        ],
        groups: [1, 1, 1],
    }
}

/// One block of rows of a row kernel: its narrowed bindings, its grid and its parameters.
pub(crate) struct RowChunk<'a> {
    pub io: crate::losses::BoundIo<'a>,
    pub groups: [u32; 3],
    pub uniform: wgpu::Buffer,
}

/// The row blocks of a B×`cols` logit call (one unless the batch exceeds a binding), each with
/// the parameter block `params(first_row, rows, groups_x)` makes for it.
pub(crate) fn row_chunks<'a, P: bytemuck::Pod>(
    ctx: &GpuContext,
    io: &crate::losses::BoundIo<'a>,
    rows: usize,
    cols: usize,
    threads_per_row: u32,
    params: impl Fn(usize, usize, u32) -> P,
) -> Result<Vec<RowChunk<'a>>> {
    ctx.row_chunks(rows, cols, io.dtype)?
        .into_iter()
        .map(|(start, len)| {
            let groups = row_grid(len, threads_per_row)?;
            Ok(RowChunk {
                io: io.chunk(start, len, cols),
                groups,
                uniform: ctx.params_buffer(bytemuck::bytes_of(&params(start, len, groups[0])))?,
            })
        })
        .collect()
}
