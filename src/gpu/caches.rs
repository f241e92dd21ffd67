//! What the engine keeps between calls: shader modules, pipelines, parameter blocks, scratch
//! buffers, bind groups and the recordings of recent calls. Every map is bounded (a full map
//! is cleared, never grown).

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use super::engine::Recording;
use super::instrument::DispatchTimer;
use super::GpuContext;
use crate::error::{Error, Result};
use crate::kernel::{BindingKind, Kernel};
use crate::tensor::{InputDtype, Precision};

/// File, variant, entry, lanes per row, input dtype, gradient dtype, subgroup reductions.
type PipelineKey = (
    &'static str,
    &'static str,
    &'static str,
    u32,
    InputDtype,
    InputDtype,
    bool,
);

/// A pipeline with the layout its bind groups are made from.
pub(crate) struct CachedPipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    /// Reads its inputs through the counting loads: bind the load counter as group 1.
    pub counted: bool,
}

#[derive(Default)]
pub(super) struct Caches {
    /// By file, input form (quads or one element per load), input and gradient dtypes and
    /// reduction form.
    pub(super) modules: HashMap<
        (
            &'static str,
            &'static str,
            bool,
            InputDtype,
            InputDtype,
            bool,
        ),
        wgpu::ShaderModule,
    >,
    /// By file, entry, lanes per row, input and gradient dtypes and reduction form.
    pub(super) pipelines: HashMap<PipelineKey, Arc<CachedPipeline>>,
    pub(super) scratch: HashMap<&'static str, wgpu::Buffer>,
    /// Parameter blocks by content: a block is never rewritten, so calls recorded into one
    /// encoder cannot race on it, and a call repeating a shape reuses its blocks.
    pub(super) params: HashMap<Vec<u8>, wgpu::Buffer>,
    /// Bind groups by pipeline and bound buffer ranges, so a call repeating its bindings (a
    /// training loop recording into its own buffers) creates none. A bind group keeps its
    /// buffers alive: the map is bounded, and `evaluate` forgets its transient buffers.
    pub(super) bind_groups: HashMap<BindGroupKey, wgpu::BindGroup>,
    /// Resolved recordings of recent calls, by loss, shape, precision and bound ranges.
    pub(super) recordings: HashMap<RecordingKey, Arc<Recording>>,
    pub(super) dispatch_timer: Option<DispatchTimer>,
}

/// What a context holds in its caches (`GpuContext::cache_stats`): after the first call of a
/// shape class nothing more is created, and a call repeating its bindings adds nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStats {
    pub shader_modules: usize,
    pub pipelines: usize,
    pub bind_groups: usize,
    pub parameter_blocks: usize,
    /// Calls whose dispatches, pipelines and bind groups are kept for replay.
    pub recordings: usize,
}

/// Most cached parameter blocks and bind groups; a full map is cleared, never grown.
const PARAMS_CACHE_CAPACITY: usize = 512;
const BIND_GROUP_CACHE_CAPACITY: usize = 128;
const RECORDING_CACHE_CAPACITY: usize = 64;

/// What decides a call's recording: the loss and its parameters (their `Debug` form, exact
/// for floats), the shape, the precision and the caller's bound buffer ranges. The strategy is
/// not in it: changing it clears the recordings.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct RecordingKey {
    spec: String,
    shape: Vec<usize>,
    precision: Precision,
    /// Student, teacher, labels, loss and gradient (absent ones as `None`).
    buffers: [Option<(wgpu::Buffer, u64, Option<wgpu::BufferSize>)>; 5],
}

impl RecordingKey {
    /// `spec` is the loss and its parameters as text (their `Debug` form: exact for floats).
    pub(crate) fn new(
        spec: String,
        shape: &[usize],
        precision: Precision,
        io: &super::BoundIo<'_>,
    ) -> Self {
        let buffers = io
            .keyed()
            .map(|b| b.map(|b| (b.buffer.clone(), b.offset, b.size)));
        Self {
            spec,
            shape: shape.to_vec(),
            precision,
            buffers,
        }
    }
}

/// A pipeline (by address of its cache entry) and the buffer ranges bound to it, in order.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct BindGroupKey {
    pipeline: usize,
    buffers: Vec<(wgpu::Buffer, u64, Option<wgpu::BufferSize>)>,
}

impl BindGroupKey {
    /// The key of `resources` bound to `pipeline`.
    pub(crate) fn new(
        pipeline: &Arc<CachedPipeline>,
        resources: &[wgpu::BufferBinding<'_>],
    ) -> Self {
        Self {
            pipeline: Arc::as_ptr(pipeline) as usize,
            buffers: resources
                .iter()
                .map(|b| (b.buffer.clone(), b.offset, b.size))
                .collect(),
        }
    }
}

impl GpuContext {
    /// The pipeline for `kernel` with `threads_per_row` lanes per row and `dtype` inputs,
    /// created once.
    pub(crate) fn pipeline(
        &self,
        kernel: &Kernel,
        threads_per_row: u32,
        precision: Precision,
    ) -> Result<Arc<CachedPipeline>> {
        let dtype = if kernel.dtype_aware {
            precision.inputs
        } else {
            InputDtype::F32
        };
        // Only the quad kernels store the gradient in another dtype.
        let grad = if kernel.quads {
            precision.grad
        } else {
            InputDtype::F32
        };
        let subgroups = self.subgroups_for(threads_per_row);
        // (The sparse teacher's kernel reads its student alone: not counted.)
        let counted = kernel.dtype_aware && !kernel.student_only && self.load_counter.is_some();
        if counted && dtype != InputDtype::F32 {
            return Err(Error::Param(format!(
                "input loads are counted for f32 inputs only, not {dtype:?}"
            )));
        }
        let key = (
            kernel.file,
            kernel.variant,
            kernel.entry,
            threads_per_row,
            dtype,
            grad,
            subgroups,
        );
        if let Some(p) = self.lock().pipelines.get(&key) {
            return Ok(p.clone());
        }
        let created = self.scoped(
            &format!("creating {}::{}", kernel.file, kernel.entry),
            || {
                let mut caches = self.lock();
                let module = caches
                    .modules
                    .entry((
                        kernel.file,
                        kernel.variant,
                        kernel.quads,
                        dtype,
                        grad,
                        subgroups,
                    ))
                    .or_insert_with(|| {
                        self.device
                            .create_shader_module(wgpu::ShaderModuleDescriptor {
                                label: Some(kernel.file),
                                source: wgpu::ShaderSource::Wgsl(
                                    if counted {
                                        kernel.module_source_counted(subgroups)
                                    } else {
                                        kernel.module_source_with(dtype, grad, subgroups)
                                    }
                                    .into(),
                                ),
                            })
                    })
                    .clone();
                drop(caches);
                let layout = self.bind_group_layout(kernel);
                let counter = self
                    .load_counter
                    .as_ref()
                    .filter(|_| counted)
                    .map(|c| &c.layout);
                let layouts: Vec<_> = std::iter::once(Some(&layout))
                    .chain(counter.map(Some))
                    .collect();
                let pipeline_layout =
                    self.device
                        .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                            label: Some(kernel.entry),
                            bind_group_layouts: &layouts,
                            immediate_size: 0,
                        });
                // SG (the smallest subgroup size) exists only in the subgroup form.
                let split = self.subgroup_layout().unwrap_or(1);
                let with_split = [("TPR", threads_per_row as f64), ("SG", f64::from(split))];
                let constants = if subgroups {
                    &with_split[..]
                } else {
                    &with_split[..1]
                };
                let pipeline =
                    self.device
                        .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                            label: Some(kernel.entry),
                            layout: Some(&pipeline_layout),
                            module: &module,
                            entry_point: Some(kernel.entry),
                            compilation_options: wgpu::PipelineCompilationOptions {
                                constants,
                                zero_initialize_workgroup_memory: false,
                            },
                            cache: None,
                        });
                Ok(Arc::new(CachedPipeline {
                    pipeline,
                    layout,
                    counted,
                }))
            },
        )?;
        self.lock().pipelines.insert(key, created.clone());
        Ok(created)
    }

    /// The bind group layout the Rust side declares for `kernel` (compared with the WGSL's
    /// reflected bindings in `tests/shaders.rs`).
    pub fn bind_group_layout(&self, kernel: &Kernel) -> wgpu::BindGroupLayout {
        let entries: Vec<_> = layout_entries(kernel);
        self.device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(kernel.entry),
                entries: &entries,
            })
    }

    /// A scratch buffer of at least `bytes`, shared by the calls of this context. Reuse is safe:
    /// wgpu orders the passes that touch it, within one encoder and across submissions.
    pub(crate) fn scratch(&self, name: &'static str, bytes: u64) -> wgpu::Buffer {
        let bytes = bytes.max(16).next_multiple_of(16);
        let mut caches = self.lock();
        if let Some(b) = caches.scratch.get(name) {
            if b.size() >= bytes {
                return b.clone();
            }
            // Replaced by a larger one below: its bind groups go with it.
            let old = b.clone();
            caches
                .bind_groups
                .retain(|key, _| !key.buffers.iter().any(|(b, _, _)| *b == old));
        }
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(name),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        caches.scratch.insert(name, buffer.clone());
        buffer
    }

    /// A uniform buffer holding one call's parameters. Filled at creation (not by
    /// `queue.write_buffer`) and never rewritten, so two calls recorded into one encoder keep
    /// their own values; blocks are cached by content, so a repeated call creates none.
    /// Called while recording, inside the error scope `GpuContext::record` holds, so it pushes
    /// none of its own (two fewer scope round trips per parameter block).
    pub(crate) fn params_buffer(&self, bytes: &[u8]) -> Result<wgpu::Buffer> {
        if let Some(buffer) = self.lock().params.get(bytes) {
            return Ok(buffer.clone());
        }
        let buffer =
            self.filled_buffer("wgpu-distill params", wgpu::BufferUsages::UNIFORM, bytes)?;
        let mut caches = self.lock();
        if caches.params.len() >= PARAMS_CACHE_CAPACITY {
            caches.params.clear();
        }
        caches.params.insert(bytes.to_vec(), buffer.clone());
        Ok(buffer)
    }

    /// The cached bind group for `key`, or the one `create` makes (then cached).
    pub(crate) fn bind_group(
        &self,
        key: BindGroupKey,
        create: impl FnOnce() -> wgpu::BindGroup,
    ) -> wgpu::BindGroup {
        if let Some(group) = self.lock().bind_groups.get(&key) {
            return group.clone();
        }
        let group = create();
        let mut caches = self.lock();
        if caches.bind_groups.len() >= BIND_GROUP_CACHE_CAPACITY {
            caches.bind_groups.clear();
        }
        caches.bind_groups.insert(key, group.clone());
        group
    }

    /// Drops the cached bind groups that bind any of `buffers` (transient buffers of one call),
    /// so that the cache does not keep them alive.
    pub(crate) fn forget_bind_groups_of(&self, buffers: &[&wgpu::Buffer]) {
        let mut caches = self.lock();
        caches
            .bind_groups
            .retain(|key, _| !key.buffers.iter().any(|(b, _, _)| buffers.contains(&b)));
        caches.recordings.retain(|key, _| {
            !key.buffers
                .iter()
                .flatten()
                .any(|(b, _, _)| buffers.contains(&b))
        });
    }

    /// The recording of an earlier call with `key`, if it is still kept.
    pub(crate) fn cached_recording(&self, key: &RecordingKey) -> Option<Arc<Recording>> {
        self.lock().recordings.get(key).cloned()
    }

    /// Keeps `recording` for calls with `key` (a full map is cleared, never grown).
    pub(crate) fn remember_recording(&self, key: RecordingKey, recording: Arc<Recording>) {
        let mut caches = self.lock();
        if caches.recordings.len() >= RECORDING_CACHE_CAPACITY {
            caches.recordings.clear();
        }
        caches.recordings.insert(key, recording);
    }

    /// How many shader modules, pipelines, bind groups and parameter blocks are cached.
    pub fn cache_stats(&self) -> CacheStats {
        let caches = self.lock();
        CacheStats {
            shader_modules: caches.modules.len(),
            pipelines: caches.pipelines.len(),
            bind_groups: caches.bind_groups.len(),
            parameter_blocks: caches.params.len(),
            recordings: caches.recordings.len(),
        }
    }

    /// Drops every cached bind group, releasing the buffers they bind. Bind groups are cached
    /// (at most 128) so that a training loop recording into the same buffers every step creates
    /// none; a caller that frees large buffers and wants their memory back at once calls this.
    pub fn release_cached_bind_groups(&self) {
        let mut caches = self.lock();
        caches.bind_groups.clear();
        caches.recordings.clear();
    }
}

/// Layout entries of `kernel`'s group 0, from its binding table.
pub fn layout_entries(kernel: &Kernel) -> Vec<wgpu::BindGroupLayoutEntry> {
    kernel
        .bindings
        .iter()
        .enumerate()
        .map(|(i, kind)| wgpu::BindGroupLayoutEntry {
            binding: i as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: match kind {
                    BindingKind::Uniform => wgpu::BufferBindingType::Uniform,
                    BindingKind::ReadOnly => wgpu::BufferBindingType::Storage { read_only: true },
                    BindingKind::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect()
}
