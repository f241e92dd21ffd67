//! Instrumentation, apart from the engine's work: the input load counter (tests measure each
//! kernel's traffic with it) and per-dispatch timestamps (`bench --per-dispatch`).

use super::caches::Caches;
use super::GpuContext;
use crate::error::{Error, Result};

/// Test only (`GpuContext::count_input_loads`): one u32 per input element, the student's then
/// the teacher's, that the counting loads add 1 to per element read.
pub(super) struct LoadCounter {
    pub(super) counts: wgpu::Buffer,
    pub(super) layout: wgpu::BindGroupLayout,
    pub(super) group: wgpu::BindGroup,
}

/// Per-kernel timestamps for `bench --per-dispatch`. While armed, every dispatch recorded gets
/// its own compute pass with timestamps at its start and end, so each kernel's GPU time can be
/// read. Off by default: a call records all its dispatches in one pass.
pub(crate) struct DispatchTimer {
    pub queries: wgpu::QuerySet,
    /// Room for this many dispatches (two queries each).
    pub capacity: u32,
    /// The kernel entry of each dispatch recorded so far, in order.
    pub kernels: Vec<&'static str>,
}

impl GpuContext {
    /// Test only: from now on every kernel that reads logits reads its f32 inputs through
    /// loads that count each element read (`shaders/lib/input_f32_counted.wgsl`), for inputs of
    /// up to `elements` elements each, unchunked; [`GpuContext::input_load_counts`] reads the
    /// counts. Slow (one atomic add per element load): for measuring traffic, never for use.
    #[doc(hidden)]
    pub fn count_input_loads(&mut self, elements: usize) -> Result<()> {
        let counts = self.scoped("allocating the input load counts", || {
            Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("input load counts"),
                size: (2 * elements.max(1)) as u64 * 4,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }))
        })?;
        let layout = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("input load counts"),
                entries: &[wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage { read_only: false },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                }],
            });
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("input load counts"),
            layout: &layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: counts.as_entire_binding(),
            }],
        });
        self.load_counter = Some(LoadCounter {
            counts,
            layout,
            group,
        });
        // Modules, pipelines and recordings made before read without counting.
        *self.lock() = Caches::default();
        Ok(())
    }

    /// Test only: how many times each student and each teacher element was read since the
    /// last call (or since `count_input_loads`), then zeroes the counts.
    #[doc(hidden)]
    pub fn input_load_counts(&self) -> Result<(Vec<u32>, Vec<u32>)> {
        let counter = self.load_counter.as_ref().ok_or_else(|| {
            Error::Param("input loads are not counted: call count_input_loads first".into())
        })?;
        let bytes = counter.counts.size();
        let staging = self.staging(bytes)?;
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&counter.counts, 0, &staging, 0, bytes);
        encoder.clear_buffer(&counter.counts, 0, None);
        let index = self.queue.submit([encoder.finish()]);
        let read = self.read_back(&staging, index)?;
        let mut counts: Vec<u32> = bytemuck::pod_collect_to_vec(&read);
        let teacher = counts.split_off(counts.len() / 2);
        Ok((counts, teacher))
    }

    /// The load counter's bind group, for pipelines that read through the counting loads.
    pub(crate) fn load_counter_group(&self) -> Option<&wgpu::BindGroup> {
        self.load_counter.as_ref().map(|c| &c.group)
    }

    /// Arms per-dispatch timestamps for the next `capacity` dispatches recorded; false when the
    /// device has no TIMESTAMP_QUERY.
    pub(crate) fn arm_dispatch_timer(&self, capacity: u32) -> bool {
        if !self
            .device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
        {
            return false;
        }
        let queries = self.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("per-dispatch timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * capacity,
        });
        self.lock().dispatch_timer = Some(DispatchTimer {
            queries,
            capacity,
            kernels: Vec::new(),
        });
        true
    }

    /// Whether per-dispatch timestamps are armed (then each dispatch gets its own pass).
    pub(crate) fn dispatch_timer_armed(&self) -> bool {
        self.lock().dispatch_timer.is_some()
    }

    /// Disarms per-dispatch timestamps and returns what was recorded.
    pub(crate) fn take_dispatch_timer(&self) -> Option<DispatchTimer> {
        self.lock().dispatch_timer.take()
    }

    /// When the timer is armed and has room, the timestamp writes for the next dispatch.
    pub(crate) fn next_dispatch_timestamps(
        &self,
        kernel: &'static str,
    ) -> Option<(wgpu::QuerySet, u32)> {
        let mut caches = self.lock();
        let timer = caches.dispatch_timer.as_mut()?;
        let index = timer.kernels.len() as u32;
        if index >= timer.capacity {
            return None;
        }
        timer.kernels.push(kernel);
        Some((timer.queries.clone(), 2 * index))
    }
}
