//! wgpu-distill-burn's tests, one binary (a module per topic): `distill_loss` on burn's wgpu
//! backend against the float64 reference and burn's own autodiff, and the burn example. They
//! need a Vulkan adapter (lavapipe on a machine without a GPU) and fail, never skip, without one.

use std::sync::OnceLock;

use burn::tensor::Device;

mod burn_losses;
mod distill_example;
mod distributed;
mod fused;
mod temperature;

/// burn's wgpu runtime on Vulkan (lavapipe on a machine without a GPU), initialised once per
/// test binary through the crate (`init_device` refuses a second initialisation of the runtime,
/// so every test of the binary takes this one). Fails, never skips, without an adapter.
pub fn device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let options =
                Device::wgpu_options().graphics_api(burn::tensor::wgpu::WgpuBackend::Vulkan);
            wgpu_distill_burn::init_device(options).unwrap_or_else(|e| {
                panic!(
                    "a Vulkan adapter is required: {e}\n{}",
                    wgpu_distill::NO_ADAPTER_HELP
                )
            })
        })
        .clone()
}
