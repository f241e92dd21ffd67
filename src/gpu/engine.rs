//! Plans made real: a [`Plan`]'s slots resolved to the caller's regions, the context's scratch
//! buffers and cached parameter blocks, its kernels to cached pipelines and bind groups (a
//! [`Recording`]), then recorded into the caller's encoder as one compute pass. Also the
//! one-time probe that decides whether the subgroup reductions may run.

use std::sync::Arc;

use super::caches::{BindGroupKey, CachedPipeline};
use super::GpuContext;
use crate::error::{Error, Result};
use crate::plan::{Io, IoLayout, Plan, Slot};
use crate::tensor::InputDtype;

/// The caller's regions of one call, checked and ready to bind.
#[derive(Clone, Debug)]
pub(crate) struct BoundIo<'a> {
    /// How student and teacher are stored.
    pub dtype: InputDtype,
    /// How the gradient is stored (f32 unless a quad kernel writes f16/bf16).
    pub grad_dtype: InputDtype,
    pub student: wgpu::BufferBinding<'a>,
    pub teacher: wgpu::BufferBinding<'a>,
    pub labels: Option<wgpu::BufferBinding<'a>>,
    pub loss: wgpu::BufferBinding<'a>,
    pub grad: Option<wgpu::BufferBinding<'a>>,
    /// A sparse teacher's ids and log-probabilities.
    pub sparse: Option<[wgpu::BufferBinding<'a>; 2]>,
    /// Buffers the library made for the call (`Io::Extra(i)`).
    pub extra: Vec<wgpu::BufferBinding<'a>>,
    /// The teacher's row width where it differs from the student's (SP, PKT).
    pub teacher_width: Option<usize>,
}

/// `buffer`, bound whole.
fn whole(buffer: &wgpu::Buffer) -> wgpu::BufferBinding<'_> {
    wgpu::BufferBinding {
        buffer,
        offset: 0,
        size: None,
    }
}

impl<'a> BoundIo<'a> {
    /// The library's own f32 buffers, bound whole.
    pub(crate) fn whole(
        student: &'a wgpu::Buffer,
        teacher: &'a wgpu::Buffer,
        loss: &'a wgpu::Buffer,
        grad: Option<&'a wgpu::Buffer>,
    ) -> Self {
        Self {
            dtype: InputDtype::F32,
            grad_dtype: InputDtype::F32,
            student: whole(student),
            teacher: whole(teacher),
            labels: None,
            loss: whole(loss),
            grad: grad.map(whole),
            sparse: None,
            extra: Vec::new(),
            teacher_width: None,
        }
    }

    /// What a plan may know of these regions.
    pub(crate) fn layout(&self) -> IoLayout {
        IoLayout {
            dtype: self.dtype,
            grad_dtype: self.grad_dtype,
            student_offset: self.student.offset,
            teacher_offset: self.teacher.offset,
            grad_offset: self.grad.as_ref().map(|g| g.offset),
            labels: self.labels.is_some(),
            teacher_width: self.teacher_width,
        }
    }

    /// The region `io`, if bound.
    fn region(&self, io: Io) -> Option<&wgpu::BufferBinding<'a>> {
        match io {
            Io::Student => Some(&self.student),
            Io::Teacher => Some(&self.teacher),
            Io::Labels => self.labels.as_ref(),
            Io::Loss => Some(&self.loss),
            Io::Grad => self.grad.as_ref(),
            Io::Ids => self.sparse.as_ref().map(|s| &s[0]),
            Io::Logprobs => self.sparse.as_ref().map(|s| &s[1]),
            Io::Extra(i) => self.extra.get(usize::from(i)),
        }
    }

    /// The student, teacher, labels, loss and gradient regions (for the recording key).
    pub(crate) fn keyed(&self) -> [Option<&wgpu::BufferBinding<'a>>; 5] {
        [
            Some(&self.student),
            Some(&self.teacher),
            self.labels.as_ref(),
            Some(&self.loss),
            self.grad.as_ref(),
        ]
    }
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
    pub pipeline: Arc<CachedPipeline>,
    pub bind_group: wgpu::BindGroup,
    pub groups: [u32; 3],
}

impl GpuContext {
    /// Resolves `plan` on `io` (scratch buffers, parameter blocks, pipelines and bind groups,
    /// all cached) into a recording. Call it inside an error scope: a bind group can be
    /// invalid.
    pub(crate) fn materialise(&self, plan: &Plan, io: &BoundIo<'_>) -> Result<Recording> {
        let scratch: Vec<(&'static str, wgpu::Buffer)> = plan
            .scratch
            .iter()
            .map(|&(name, bytes)| (name, self.scratch(name, bytes)))
            .collect();
        let params = plan
            .params
            .iter()
            .map(|bytes| self.params_buffer(bytes))
            .collect::<Result<Vec<_>>>()?;
        let mut steps = Vec::with_capacity(plan.dispatches.len());
        for d in &plan.dispatches {
            let resources = d
                .bindings
                .iter()
                .map(|slot| self.resolve(plan, slot, io, &scratch, &params))
                .collect::<Result<Vec<_>>>()?;
            let pipeline = self.pipeline(&d.kernel, d.threads_per_row, plan.precision)?;
            let bind_group = self.bind_group(BindGroupKey::new(&pipeline, &resources), || {
                let entries: Vec<_> = resources
                    .iter()
                    .enumerate()
                    .map(|(i, r)| wgpu::BindGroupEntry {
                        binding: i as u32,
                        resource: wgpu::BindingResource::Buffer(r.clone()),
                    })
                    .collect();
                self.device().create_bind_group(&wgpu::BindGroupDescriptor {
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
        Ok(Recording {
            label: plan.label,
            steps,
        })
    }

    /// The buffer range a slot stands for.
    fn resolve<'b>(
        &self,
        plan: &Plan,
        slot: &Slot,
        io: &BoundIo<'b>,
        scratch: &'b [(&'static str, wgpu::Buffer)],
        params: &'b [wgpu::Buffer],
    ) -> Result<wgpu::BufferBinding<'b>> {
        let missing = |what: String| {
            Error::Param(format!(
                "{}: the plan binds {what}, which the call does not provide",
                plan.label
            ))
        };
        match *slot {
            Slot::Io {
                io: which,
                start,
                len,
            } => {
                let region = io
                    .region(which)
                    .ok_or_else(|| missing(format!("{which:?}")))?;
                Ok(wgpu::BufferBinding {
                    buffer: region.buffer,
                    offset: region.offset + start,
                    size: match len {
                        Some(len) => std::num::NonZeroU64::new(len),
                        None => region.size,
                    },
                })
            }
            Slot::Scratch(name) => scratch
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| whole(b))
                .ok_or_else(|| missing(format!("scratch buffer {name}"))),
            Slot::Params(i) => params
                .get(i)
                .map(whole)
                .ok_or_else(|| missing(format!("parameter block {i}"))),
        }
    }

    /// Records `recording`, in order, as one compute pass of `encoder` (one pass per dispatch,
    /// between timestamps, while `bench --per-dispatch` has armed the timer); returns how many
    /// dispatches. Call it inside an error scope: the pass is validated when it ends.
    pub(crate) fn replay(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        recording: &Recording,
    ) -> usize {
        let record_one = |pass: &mut wgpu::ComputePass<'_>, step: &Step| {
            pass.set_pipeline(&step.pipeline.pipeline);
            pass.set_bind_group(0, &step.bind_group, &[]);
            if step.pipeline.counted {
                pass.set_bind_group(1, self.load_counter_group(), &[]);
            }
            pass.dispatch_workgroups(step.groups[0], step.groups[1], step.groups[2]);
        };
        if self.dispatch_timer_armed() {
            for step in &recording.steps {
                let stamps = self.next_dispatch_timestamps(step.entry);
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

    /// Materialises and records `plan` on `io` in one error scope, keeping the recording for
    /// calls with `key` (a call repeating an earlier one replays its recording: the same
    /// pipelines, bind groups and parameter blocks); returns how many dispatches.
    pub(crate) fn record_plan(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        key: Option<super::RecordingKey>,
        plan: impl FnOnce() -> Result<Plan>,
        io: &BoundIo<'_>,
        label: &str,
    ) -> Result<usize> {
        if let Some(recording) = key.as_ref().and_then(|k| self.cached_recording(k)) {
            return self.scoped(label, || Ok(self.replay(encoder, &recording)));
        }
        // One error scope over the whole recording: parameter blocks and scratch buffers
        // created on the caller's device never reach its (possibly panicking) error handler.
        let recorded = self.scoped(label, || {
            let recording = self.materialise(&plan()?, io)?;
            let dispatches = self.replay(encoder, &recording);
            Ok((recording, dispatches))
        });
        match recorded {
            Ok((recording, dispatches)) => {
                if let Some(key) = key {
                    self.remember_recording(key, Arc::new(recording));
                }
                Ok(dispatches)
            }
            Err(e) => {
                // A bind group made in a failed scope may be invalid: keep none of them.
                self.release_cached_bind_groups();
                Err(e)
            }
        }
    }

    /// Whether kernels dispatched with `threads_per_row` lanes a row reduce with subgroup
    /// shuffles (see `Strategy::subgroups`): any lane count, where the device allows.
    pub fn subgroups_for(&self, _threads_per_row: u32) -> bool {
        self.strategy.subgroups != Some(false) && self.subgroup_layout().is_some()
    }

    /// The smallest subgroup size, where SUBGROUP is granted and invocations are laid out
    /// linearly over full subgroups (the reductions' last log2(size) levels then run as
    /// subgroup shuffles); `None` elsewhere. Probed once (one small submission) and remembered.
    pub fn subgroup_layout(&self) -> Option<u32> {
        *self.subgroup_layout.get_or_init(|| {
            if !self.device.features().contains(wgpu::Features::SUBGROUP) {
                return None;
            }
            self.probe_subgroups().ok().flatten()
        })
    }

    /// Runs `subgroup_probe.wgsl` over a few workgroups: `Some(min size)` when every
    /// invocation sat where the subgroup reductions expect it.
    fn probe_subgroups(&self) -> Result<Option<u32>> {
        let report = self.buffer_with_data(
            "subgroup probe report",
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            bytemuck::cast_slice(&[0u32, u32::MAX]),
        )?;
        let staging = self.staging(8)?;
        let index = self.scoped("subgroup probe", || {
            let module = self
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some("subgroup_probe.wgsl"),
                    source: wgpu::ShaderSource::Wgsl(crate::kernel::SUBGROUP_PROBE.into()),
                });
            let pipeline = self
                .device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some("subgroup_probe"),
                    layout: None,
                    module: &module,
                    entry_point: Some("subgroup_probe"),
                    compilation_options: Default::default(),
                    cache: None,
                });
            let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("subgroup probe"),
                layout: &pipeline.get_bind_group_layout(0),
                entries: &[wgpu::BindGroupEntry {
                    binding: 0,
                    resource: report.as_entire_binding(),
                }],
            });
            let mut encoder = self.device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, &group, &[]);
                pass.dispatch_workgroups(16, 1, 1);
            }
            encoder.copy_buffer_to_buffer(&report, 0, &staging, 0, 8);
            Ok(self.queue.submit([encoder.finish()]))
        })?;
        let bytes = self.read_back(&staging, index)?;
        let word =
            |k: usize| u32::from_le_bytes([bytes[k], bytes[k + 1], bytes[k + 2], bytes[k + 3]]);
        Ok((bytes.len() >= 8 && word(0) == 0 && word(4) != u32::MAX).then(|| word(4)))
    }
}
