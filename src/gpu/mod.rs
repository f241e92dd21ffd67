//! The engine: a device layer (`GpuContext`: adapter, device, queue, error scopes, health),
//! the caches that materialise plans (`caches`), the recording and replay of plans
//! (`engine`), readback and uploads (`memory`) and the test instrumentation
//! (`instrument`). It knows nothing of losses: a loss hands it a device-free
//! `crate::plan::Plan`.

mod backend;
mod caches;
mod engine;
mod instrument;
mod memory;

pub use backend::{list_adapters, AdapterSummary, BackendChoice, NO_ADAPTER_HELP};
pub(crate) use caches::RecordingKey;
pub use caches::{layout_entries, CacheStats};
pub(crate) use engine::BoundIo;

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::kernel::{MAX_STORAGE_BUFFERS, WORKGROUP_SIZE};
use crate::plan::PlanEnv;
use crate::strategy::Strategy;
use crate::tuning::Tuning;
use backend::{adapter_rank, new_instance, summary};
use caches::Caches;
use instrument::LoadCounter;

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

impl GpuContext {
    /// Creates a device on the chosen backend (blocking).
    pub fn new(choice: BackendChoice) -> Result<Self> {
        pollster::block_on(Self::new_async(choice))
    }

    /// Creates a device on the chosen backend.
    pub async fn new_async(choice: BackendChoice) -> Result<Self> {
        Self::create(choice, 0).await
    }

    /// [`GpuContext::new`] on one of several GPUs of a machine, for one process (or thread)
    /// per GPU: among the adapters of the best kind (discrete GPUs, else integrated, …) on the
    /// best API (Vulkan, Metal, DX12 before GL), in the order wgpu lists them, the `local_rank`-th modulo their count. Pass the rank of the
    /// process on its node (`MpiCollective::local_rank` with feature `mpi`).
    pub fn new_for_rank(choice: BackendChoice, local_rank: usize) -> Result<Self> {
        pollster::block_on(Self::create(choice, local_rank))
    }

    async fn create(choice: BackendChoice, local_rank: usize) -> Result<Self> {
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
        // The same GPU may be listed through Vulkan and GL: choose among the best kind on the
        // best API.
        let best = adapters.first().map(|a| adapter_rank(&a.get_info()));
        adapters.retain(|a| Some(adapter_rank(&a.get_info())) == best);
        let count = adapters.len().max(1);
        let adapter = adapters
            .into_iter()
            .nth(local_rank % count)
            .ok_or_else(|| {
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
        let needed = MAX_STORAGE_BUFFERS;
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

    /// What a plan may know of this context: its strategy, its adapter class's tuning and
    /// its binding limits.
    pub fn plan_env(&self) -> PlanEnv {
        PlanEnv::with_limits(self.strategy, self.tuning, &self.device.limits())
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
