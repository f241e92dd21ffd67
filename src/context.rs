//! `GpuContext`: the adapter, device and queue the kernels run on, the cached pipelines, and the
//! small scratch buffers shared by calls. Either the library creates the device
//! ([`GpuContext::new`]) or it borrows the caller's ([`GpuContext::from_device`]).

use rustc_hash::FxHashMap as HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::record::Recording;
use crate::shaders::{BindingKind, Kernel, WORKGROUP_SIZE};
use crate::tensor::InputDtype;
use crate::tuning::{AdapterClass, Tuning};

/// Which backend to run on. `Cpu` selects the float64 reference and has no GPU context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// The best adapter found: discrete, then integrated, then software; Vulkan, Metal and DX12
    /// before GL. The environment variable `WGPU_DISTILL_BACKEND` overrides it.
    #[default]
    Auto,
    Vulkan,
    Gl,
    Metal,
    Dx12,
    /// The float64 CPU reference (no adapter).
    Cpu,
}

impl std::str::FromStr for BackendChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "auto" => Self::Auto,
            "vulkan" | "vk" => Self::Vulkan,
            "gl" | "gles" | "opengl" => Self::Gl,
            "metal" => Self::Metal,
            "dx12" | "d3d12" => Self::Dx12,
            "cpu" | "reference" => Self::Cpu,
            other => {
                return Err(Error::Param(format!(
                    "unknown backend '{other}' (expected auto, vulkan, gl, metal, dx12 or cpu)"
                )))
            }
        })
    }
}

impl BackendChoice {
    /// The wgpu backends this choice may use.
    pub fn wgpu_backends(self) -> wgpu::Backends {
        match self {
            Self::Auto => wgpu::Backends::all(),
            Self::Vulkan => wgpu::Backends::VULKAN,
            Self::Gl => wgpu::Backends::GL,
            Self::Metal => wgpu::Backends::METAL,
            Self::Dx12 => wgpu::Backends::DX12,
            Self::Cpu => wgpu::Backends::empty(),
        }
    }

    /// Lower-case name, as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Vulkan => "vulkan",
            Self::Gl => "gl",
            Self::Metal => "metal",
            Self::Dx12 => "dx12",
            Self::Cpu => "cpu",
        }
    }
}

/// How rows are spread over a workgroup. `None` fields are chosen from the shape and device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strategy {
    /// Lanes per row: a power of two from 1 to 256. 256 is one workgroup per row; smaller
    /// values put several rows in one workgroup (for small C).
    pub threads_per_row: Option<u32>,
    /// Rows per tile of DIST's column statistics.
    pub tile_rows: Option<u32>,
    /// Whether rows are held in registers (one read of each input; rows of at most
    /// 4 × threads_per_row classes) and DIST uses its fused tile pass (C <= 1024):
    /// `Some(true)` where they fit. `None` and `Some(false)` use the streaming kernels, which
    /// measured faster on both adapters tried (an H200: KL 4096×1000 0.043 ms streaming
    /// against 0.054 ms cached, DIST 0.116 against 0.214 ms; lavapipe likewise): with one
    /// row per workgroup the cached kernels' extra workgroup reductions cost more than the
    /// second read saves. Kept, tested, for adapters where that balance differs.
    pub cached_rows: Option<bool>,
    /// Rows per chunk for the logit losses: `None` splits only batches beyond one binding
    /// (`max_storage_buffer_binding_size`); a value forces chunks of about that many rows
    /// (rounded to keep every chunk's offset aligned). Tests force tiny chunks with it.
    pub chunk_rows: Option<usize>,
    /// Whether the logit kernels read four consecutive classes per load (16-byte loads and
    /// stores), possible when C is a multiple of 4 and the bindings are 16-byte aligned.
    /// `None` and `Some(true)` use them wherever possible; `Some(false)` forces the
    /// one-element kernels (tests cover both). On lavapipe they execute about half the
    /// instructions per element (its loads run a scalar loop per SIMD lane).
    pub quads: Option<bool>,
    /// Whether segment reductions use subgroup shuffles, where the device grants SUBGROUP and
    /// a one-time probe finds invocations laid out linearly over full subgroups: rows of at
    /// most the smallest subgroup size reduce by shuffles alone, wider rows fold their lanes
    /// through workgroup memory down to one subgroup's worth and finish by shuffles (fewer
    /// barriers). `None` and `Some(true)` use them there; `Some(false)` never. The results
    /// are bitwise the same either way.
    pub subgroups: Option<bool>,
    /// Rows each segment of DIST's quad gradient pass takes: 1, 4 or 8. Several rows load
    /// each column quad's statistics once for all of them instead of once per row, which an
    /// adapter bound by load instructions gains from (lavapipe, DIST forward+grad at
    /// 1024×1000: 1, 4 and 8 rows take 380, 279 and 260 instructions per element); it also
    /// divides the lanes in flight. `None`: 8 on a CPU adapter, 1 on a GPU (an H200 measured
    /// 1 fastest at every shape). The gradient is bitwise the same whichever is used.
    pub dist_grad_rows: Option<u32>,
    /// Reads of each input by DIST's streaming row pass: 2 (the max and sum of exp, then the
    /// deviations from 1/C) or 1 (online moments of exp(x - max), rescaled as the max rises,
    /// and merged over the lanes about the row's mean: `dist_rows.wgsl`). With 1, DIST
    /// forward+grad reads each input 4 times instead of 5 where rows are not held on chip
    /// (forward alone: 2 instead of 3); the results agree up to rounding, not bitwise. `None`:
    /// 1, which measured faster on both classes of adapter: lavapipe (forward+grad, 260
    /// against 302.5 instructions per element at 1024×1000) and an H200 (the row kernel at
    /// 512×32000 in 0.061 ms against 0.097 ms, `docs/measurements/h200-2026-12-04/`).
    pub dist_row_reads: Option<u32>,
}

/// The defaults of a CPU rasteriser or of a GPU.
fn class_tuning(cpu_adapter: bool) -> &'static Tuning {
    Tuning::for_class(if cpu_adapter {
        AdapterClass::CpuRasterizer
    } else {
        AdapterClass::Gpu
    })
}

impl Strategy {
    /// Lanes per row for `cols` classes on this kind of adapter: the forced count, else the
    /// adapter class's default (`crate::tuning`: about sixteen classes a lane from 32 to 256
    /// lanes on a GPU, 8 lanes on a CPU rasteriser).
    pub fn threads_per_row_for(&self, cols: usize, cpu_adapter: bool) -> u32 {
        self.threads_per_row
            .unwrap_or_else(|| class_tuning(cpu_adapter).threads_per_row(cols))
    }

    /// Rows per column tile for DIST (16 to 1024), when the column pass has `column_groups`
    /// workgroups per tile: the forced count, else the adapter class's default
    /// (`crate::tuning`).
    pub fn tile_rows_for(&self, rows: usize, column_groups: u32, cpu_adapter: bool) -> u32 {
        self.tile_rows
            .unwrap_or_else(|| class_tuning(cpu_adapter).tile_rows(rows, column_groups))
    }

    /// Whether rows of `cols` classes are held in registers over `lanes` lanes of `per_lane`
    /// elements (`cached_rows` forced on, and the row fits).
    pub(crate) fn holds_rows(&self, cols: usize, lanes: u32, per_lane: u32) -> bool {
        self.cached_rows == Some(true) && cols <= (lanes * per_lane) as usize
    }

    fn validate(&self) -> Result<()> {
        if let Some(t) = self.threads_per_row {
            if !t.is_power_of_two() || t > WORKGROUP_SIZE {
                return Err(Error::Param(format!(
                    "threads_per_row must be a power of two from 1 to {WORKGROUP_SIZE}, got {t}"
                )));
            }
        }
        if let Some(r) = self.dist_grad_rows {
            if ![1, 4, 8].contains(&r) {
                return Err(Error::Param(format!(
                    "dist_grad_rows must be 1, 4 or 8, got {r}"
                )));
            }
        }
        if let Some(r) = self.dist_row_reads {
            if ![1, 2].contains(&r) {
                return Err(Error::Param(format!(
                    "dist_row_reads must be 1 or 2, got {r}"
                )));
            }
        }
        if self.tile_rows == Some(0) {
            return Err(Error::Param("tile_rows must be at least 1".into()));
        }
        Ok(())
    }
}

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

/// Test only (`GpuContext::count_input_loads`): one u32 per input element, the student's then
/// the teacher's, that the counting loads add 1 to per element read.
struct LoadCounter {
    counts: wgpu::Buffer,
    layout: wgpu::BindGroupLayout,
    group: wgpu::BindGroup,
}

#[derive(Default)]
struct Caches {
    /// By file, input form (quads or one element per load), input and gradient dtypes and
    /// reduction form.
    modules: HashMap<
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
    pipelines: HashMap<PipelineKey, Arc<CachedPipeline>>,
    scratch: HashMap<&'static str, wgpu::Buffer>,
    /// Parameter blocks by content: a block is never rewritten, so calls recorded into one
    /// encoder cannot race on it, and a call repeating a shape reuses its blocks.
    params: HashMap<Vec<u8>, wgpu::Buffer>,
    /// Bind groups by pipeline and bound buffer ranges, so a call repeating its bindings (a
    /// training loop recording into its own buffers) creates none. A bind group keeps its
    /// buffers alive: the map is bounded, and `evaluate` forgets its transient buffers.
    bind_groups: HashMap<BindGroupKey, wgpu::BindGroup>,
    /// Resolved recordings of recent calls, by loss, shape, precision and bound ranges.
    recordings: HashMap<RecordingKey, Arc<Recording>>,
    dispatch_timer: Option<DispatchTimer>,
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
    precision: crate::tensor::Precision,
    /// Student, teacher, labels, loss and gradient (absent ones as `None`).
    buffers: [Option<(wgpu::Buffer, u64, Option<wgpu::BufferSize>)>; 5],
}

impl RecordingKey {
    pub(crate) fn new(
        spec: &crate::losses::LossSpec,
        shape: &[usize],
        precision: crate::tensor::Precision,
        io: &crate::losses::BoundIo<'_>,
    ) -> Self {
        let bound = [
            Some(&io.student),
            Some(&io.teacher),
            io.labels.as_ref(),
            Some(&io.loss),
            io.grad.as_ref(),
        ];
        let buffers = bound.map(|b| b.map(|b| (b.buffer.clone(), b.offset, b.size)));
        Self {
            spec: format!("{spec:?}"),
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
    /// The key of `resources` bound to `pipeline`; `None` if a resource is not a buffer range.
    pub(crate) fn new(
        pipeline: &Arc<CachedPipeline>,
        resources: &[wgpu::BindingResource<'_>],
    ) -> Option<Self> {
        let buffers = resources
            .iter()
            .map(|r| match r {
                wgpu::BindingResource::Buffer(b) => Some((b.buffer.clone(), b.offset, b.size)),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            pipeline: Arc::as_ptr(pipeline) as usize,
            buffers,
        })
    }
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

/// The device the kernels run on, with its pipelines and scratch buffers.
///
/// `GpuContext` is `Send + Sync`: one context can serve several threads.
pub struct GpuContext {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    strategy: Strategy,
    /// The defaults of the adapter's class (`crate::tuning`), resolved once.
    tuning: Tuning,
    caches: Mutex<Caches>,
    /// Set by the device-lost callback (devices the library created).
    lost: Arc<Mutex<Option<String>>>,
    /// Errors no scope caught (devices the library created): reported, never panicked on.
    uncaptured: Arc<Mutex<Option<String>>>,
    /// Longest wait for the GPU before a call gives up with `Error::Device`.
    timeout: Duration,
    /// The subgroup probe's finding, once run: the smallest subgroup size where the layout
    /// suits the subgroup reductions, `None` where it does not (or SUBGROUP is missing).
    subgroup_layout: OnceLock<Option<u32>>,
    /// Set by `count_input_loads` (tests only).
    load_counter: Option<LoadCounter>,
}

/// What `info` prints about one adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
}

fn summary(info: &wgpu::AdapterInfo) -> AdapterSummary {
    AdapterSummary {
        name: info.name.clone(),
        backend: info.backend.to_str().to_string(),
        device_type: format!("{:?}", info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
    }
}

fn new_instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

/// Every adapter wgpu finds for `backends` (for `info` and for choosing).
pub fn list_adapters(choice: BackendChoice) -> Vec<AdapterSummary> {
    let instance = new_instance(choice.wgpu_backends());
    pollster::block_on(instance.enumerate_adapters(choice.wgpu_backends()))
        .iter()
        .map(|a| summary(&a.get_info()))
        .collect()
}

fn adapter_rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let backend = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    };
    (kind, backend)
}

/// The message a GPU test or the command line shows when no adapter is found.
pub const NO_ADAPTER_HELP: &str = "no GPU adapter found; on Linux without a GPU driver install \
Mesa's software drivers: apt-get install -y mesa-vulkan-drivers libegl1 libgl1-mesa-dri";

impl GpuContext {
    /// Creates a device on the chosen backend (blocking).
    pub fn new(choice: BackendChoice) -> Result<Self> {
        pollster::block_on(Self::new_async(choice))
    }

    /// Creates a device on the chosen backend.
    pub async fn new_async(choice: BackendChoice) -> Result<Self> {
        let choice = match (choice, std::env::var("WGPU_DISTILL_BACKEND")) {
            (BackendChoice::Auto, Ok(name)) => name.parse()?,
            (c, _) => c,
        };
        if choice == BackendChoice::Cpu {
            return Err(Error::Param(
                "the cpu backend is the float64 reference and has no GPU context".into(),
            ));
        }
        let backends = choice.wgpu_backends();
        let instance = new_instance(backends);
        let mut adapters = instance.enumerate_adapters(backends).await;
        adapters.sort_by_key(|a| adapter_rank(&a.get_info()));
        let adapter = adapters.into_iter().next().ok_or_else(|| {
            Error::Device(format!("backend {}: {NO_ADAPTER_HELP}", choice.name()))
        })?;
        let info = adapter.get_info();
        let wanted = wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
            | wgpu::Features::SUBGROUP;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgpu-distill"),
                required_features: adapter.features() & wanted,
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Device(format!("{} ({:?}): {e}", info.name, info.backend)))?;
        let ctx = Self::wrap(device, queue, info)?;
        let lost = ctx.lost.clone();
        ctx.device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut slot) = lost.lock() {
                *slot = Some(format!("device lost ({reason:?}): {message}"));
            }
        });
        let uncaptured = ctx.uncaptured.clone();
        ctx.device
            .on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
                if let Ok(mut slot) = uncaptured.lock() {
                    slot.get_or_insert_with(|| describe(&error));
                }
            }));
        Ok(ctx)
    }

    /// Borrows the caller's device and queue (embedding). The library never submits to this
    /// queue on the embedding path ([`GpuContext::record`]); the host-slice calls do.
    pub fn from_device(device: &wgpu::Device, queue: &wgpu::Queue) -> Result<Self> {
        Self::wrap(device.clone(), queue.clone(), device.adapter_info())
    }

    fn wrap(device: wgpu::Device, queue: wgpu::Queue, info: wgpu::AdapterInfo) -> Result<Self> {
        let limits = device.limits();
        if limits.max_compute_invocations_per_workgroup < WORKGROUP_SIZE
            || limits.max_compute_workgroup_size_x < WORKGROUP_SIZE
        {
            return Err(Error::Limit(format!(
                "{} allows {} invocations per workgroup; the kernels need {WORKGROUP_SIZE}",
                info.name, limits.max_compute_invocations_per_workgroup
            )));
        }
        let needed = crate::shaders::max_storage_buffers();
        if limits.max_storage_buffers_per_shader_stage < needed {
            return Err(Error::Limit(format!(
                "{} allows {} storage buffers per shader stage; the kernels need {needed}",
                info.name, limits.max_storage_buffers_per_shader_stage
            )));
        }
        let tuning = *Tuning::for_adapter(&info);
        Ok(Self {
            device,
            queue,
            info,
            strategy: Strategy::default(),
            tuning,
            caches: Mutex::new(Caches::default()),
            lost: Arc::new(Mutex::new(None)),
            uncaptured: Arc::new(Mutex::new(None)),
            timeout: Duration::from_secs(120),
            subgroup_layout: OnceLock::new(),
            load_counter: None,
        })
    }

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

    /// Forces a strategy (tests use it to cover every path); `Strategy::default()` chooses.
    pub fn set_strategy(&mut self, strategy: Strategy) -> Result<()> {
        strategy.validate()?;
        self.strategy = strategy;
        // Recordings were planned under the old strategy.
        self.lock().recordings.clear();
        Ok(())
    }

    /// The strategy in force.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Row blocks `(first row, rows)` for a B×C logit loss: one block when it fits in one
    /// binding, else blocks as large as a binding allows, each starting at an offset aligned to
    /// `min_storage_buffer_offset_alignment` for the inputs (`dtype`) and the f32 gradient.
    pub(crate) fn row_chunks(
        &self,
        rows: usize,
        cols: usize,
        dtype: InputDtype,
    ) -> Result<Vec<(usize, usize)>> {
        let limits = self.device.limits();
        // The f32 gradient is the widest binding; kernels index a binding with u32 words.
        let max = limits
            .max_storage_buffer_binding_size
            .min(u64::from(u32::MAX) / 4 * 4);
        let row_bytes = cols as u64 * 4;
        let fit = (max / row_bytes) as usize;
        if self.strategy.chunk_rows.is_none() && fit >= rows {
            return Ok(vec![(0, rows)]);
        }
        let align = u64::from(limits.min_storage_buffer_offset_alignment).max(4);
        let input_row_bytes = match dtype {
            InputDtype::F32 => cols as u64 * 4,
            InputDtype::F16 | InputDtype::Bf16 => cols as u64 * 2,
        };
        // Rows per chunk: a multiple of `step` keeps both offsets aligned.
        let step_for = |bytes: u64| (align / gcd(bytes, align)) as usize;
        // A 16-bit gradient's rows (cols * 2 bytes) stay aligned as well.
        let step = lcm(
            lcm(step_for(input_row_bytes), step_for(row_bytes)),
            step_for(cols as u64 * 2),
        );
        let want = self.strategy.chunk_rows.unwrap_or(fit).min(fit);
        let chunk = (want / step).max(1) * step;
        if chunk > fit {
            return Err(Error::Limit(format!(
                "a row of C = {cols} ({row_bytes} bytes, in chunks of {step} rows for alignment) \
                 exceeds max_storage_buffer_binding_size {max}"
            )));
        }
        Ok((0..rows)
            .step_by(chunk)
            .map(|s| (s, chunk.min(rows - s)))
            .collect())
    }

    /// Whether a row of `cols` classes, spread over `threads_per_row` lanes, is held in
    /// registers (`per_lane` elements a lane at most).
    pub(crate) fn cached_rows(&self, cols: usize, threads_per_row: u32, per_lane: u32) -> bool {
        self.strategy.holds_rows(cols, threads_per_row, per_lane)
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
                    source: wgpu::ShaderSource::Wgsl(crate::shaders::SUBGROUP_PROBE.into()),
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

    /// Whether a B×`cols` call on `io` uses the quad kernels.
    pub(crate) fn quads(&self, cols: usize, io: &crate::losses::BoundIo<'_>) -> bool {
        self.strategy.quads != Some(false) && io.quads_allowed(cols)
    }

    /// The defaults of this adapter's class (`crate::tuning`), under any forced strategy.
    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }

    /// Test only: another class's defaults (for example a GPU's on lavapipe, to check the
    /// paths a GPU takes by default on a CPU adapter).
    #[doc(hidden)]
    pub fn set_tuning(&mut self, tuning: Tuning) {
        self.tuning = tuning;
        // Recordings were planned under the old defaults.
        self.lock().recordings.clear();
    }

    /// How many times DIST reads each input element at C = `cols` under this context's
    /// strategy (the bench reports it; `tests/traffic.rs` checks it against counted loads).
    #[doc(hidden)]
    pub fn dist_input_reads(&self, cols: usize, want_grad: bool) -> u32 {
        crate::losses::dist::input_reads(self, cols, want_grad)
    }

    pub(crate) fn threads_per_row(&self, cols: usize) -> u32 {
        self.strategy
            .threads_per_row
            .unwrap_or_else(|| self.tuning().threads_per_row(cols))
    }

    /// Longest wait for a submission before a host call fails with `Error::Device`.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// Adapter name and backend, for reports.
    pub fn adapter_summary(&self) -> AdapterSummary {
        summary(&self.info)
    }

    /// Lower-case backend name ("vulkan", "gl", ...).
    pub fn backend_name(&self) -> &'static str {
        match self.info.backend {
            wgpu::Backend::Vulkan => "vulkan",
            wgpu::Backend::Gl => "gl",
            wgpu::Backend::Metal => "metal",
            wgpu::Backend::Dx12 => "dx12",
            wgpu::Backend::BrowserWebGpu => "webgpu",
            _ => "noop",
        }
    }

    fn lock(&self) -> MutexGuard<'_, Caches> {
        // A panic while holding the lock cannot leave the maps inconsistent (inserts only).
        self.caches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fails with `Error::Device` if the device was lost, or `Error::Validation` if an error
    /// escaped every scope since the last check.
    pub(crate) fn check_health(&self) -> Result<()> {
        if let Some(msg) = self.lost.lock().ok().and_then(|s| s.clone()) {
            return Err(Error::Device(msg));
        }
        if let Some(msg) = self.uncaptured.lock().ok().and_then(|mut s| s.take()) {
            return Err(Error::Validation(msg));
        }
        Ok(())
    }

    /// Runs `f` inside validation and out-of-memory error scopes and turns what they caught
    /// into typed errors.
    pub(crate) fn scoped<T>(&self, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        let validation_error = pollster::block_on(validation.pop());
        let oom_error = pollster::block_on(oom.pop());
        if validation_error.is_some() || oom_error.is_some() {
            // A lost device shows first as validation errors; report the cause.
            self.check_health()?;
        }
        if let Some(e) = validation_error {
            return Err(Error::Validation(format!("{what}: {}", describe(&e))));
        }
        if let Some(e) = oom_error {
            return Err(Error::Device(format!(
                "{what}: out of memory: {}",
                describe(&e)
            )));
        }
        value
    }

    /// The pipeline for `kernel` with `threads_per_row` lanes per row and `dtype` inputs,
    /// created once.
    pub(crate) fn pipeline(
        &self,
        kernel: &Kernel,
        threads_per_row: u32,
        precision: crate::tensor::Precision,
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
        key: Option<BindGroupKey>,
        create: impl FnOnce() -> wgpu::BindGroup,
    ) -> wgpu::BindGroup {
        let Some(key) = key else {
            return create();
        };
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

    /// A buffer filled with `data` at creation. Unlike wgpu's `create_buffer_init`, a lost
    /// device or an invalid buffer is an error here, not a panic.
    pub(crate) fn buffer_with_data(
        &self,
        label: &str,
        usage: wgpu::BufferUsages,
        data: &[u8],
    ) -> Result<wgpu::Buffer> {
        self.check_health()?;
        self.scoped(label, || self.filled_buffer(label, usage, data))
    }

    /// `buffer_with_data` without an error scope of its own (the caller holds one).
    fn filled_buffer(
        &self,
        label: &str,
        usage: wgpu::BufferUsages,
        data: &[u8],
    ) -> Result<wgpu::Buffer> {
        let size = (data.len() as u64)
            .next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT)
            .max(wgpu::COPY_BUFFER_ALIGNMENT);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: true,
        });
        {
            let mut view = buffer.get_mapped_range_mut(..).map_err(|e| {
                Error::Device(format!("writing {label}: the buffer is not usable ({e})"))
            })?;
            view.slice(..data.len()).copy_from_slice(data);
        }
        buffer.unmap();
        Ok(buffer)
    }

    /// Waits for `index` and maps `staging` for reading, blocking at most the context's timeout.
    pub(crate) fn read_back(
        &self,
        staging: &wgpu::Buffer,
        index: wgpu::SubmissionIndex,
    ) -> Result<Vec<u8>> {
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: Some(self.timeout),
            })
            .map_err(|e| Error::Device(format!("waiting for the GPU: {e}")))?;
        self.check_health()?;
        match rx.recv_timeout(self.timeout) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Device(format!("mapping the result: {e}"))),
            Err(_) => return Err(Error::Device("mapping the result timed out".into())),
        }
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| Error::Device(format!("reading the result: {e}")))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }

    /// Async twin of `read_back`: drives the device with non-blocking polls, yielding to the
    /// executor between them, so it never blocks the executor's thread.
    pub(crate) async fn read_back_async(&self, staging: &wgpu::Buffer) -> Result<Vec<u8>> {
        let (tx, mut rx) = futures::channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        let start = std::time::Instant::now();
        let mapped = loop {
            self.device
                .poll(wgpu::PollType::Poll)
                .map_err(|e| Error::Device(format!("polling the GPU: {e}")))?;
            self.check_health()?;
            match rx.try_recv() {
                Ok(Some(r)) => break r,
                Ok(None) => {}
                Err(_) => return Err(Error::Device("the mapping callback was dropped".into())),
            }
            if start.elapsed() > self.timeout {
                return Err(Error::Device("waiting for the GPU timed out".into()));
            }
            YieldNow(false).await;
        };
        mapped.map_err(|e| Error::Device(format!("mapping the result: {e}")))?;
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| Error::Device(format!("reading the result: {e}")))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn lcm(a: usize, b: usize) -> usize {
    a / gcd(a as u64, b as u64) as usize * b
}

/// A wgpu error with its chain of causes on one line.
pub(crate) fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
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

/// Returns `Pending` once, waking itself: lets the executor run other tasks.
struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}
