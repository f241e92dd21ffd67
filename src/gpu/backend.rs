//! Choosing an adapter: the backends, what `info` prints about each adapter, and the order
//! `GpuContext::new` tries them in.

use crate::error::{Error, Result};

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

/// What `info` prints about one adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
}

pub(super) fn summary(info: &wgpu::AdapterInfo) -> AdapterSummary {
    AdapterSummary {
        name: info.name.clone(),
        backend: info.backend.to_str().to_string(),
        device_type: format!("{:?}", info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
    }
}

pub(super) fn new_instance(backends: wgpu::Backends) -> wgpu::Instance {
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

pub(super) fn adapter_rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
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
