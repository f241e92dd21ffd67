//! # wgpu-distill
//!
//! GPU compute kernels (WGSL, through wgpu: Vulkan, Metal, DX12, GL) for knowledge-distillation
//! losses: the loss AND its gradient with respect to the student, with a float64 CPU reference
//! for every loss.
//!
//! Losses: Hinton KD, DIST, DKD, FitNet, AT, RKD, ICKD, ReviewKD's HCL, and the token losses of
//! language-model distillation (generalized JSD, TVD, masking, a fused hard-label term, sparse
//! top-k teachers: [`TokenOptions`], [`SparseTeacher`]).
//!
//! Two ways in:
//! - host slices: [`GpuContext::evaluate`] (blocking) or [`GpuContext::evaluate_async`];
//! - embedding: [`GpuContext::from_device`] borrows your device and queue, and
//!   [`GpuContext::record`] records into your `CommandEncoder`, on your buffers, with no
//!   submit and no readback.
//!
//! ```no_run
//! use wgpu_distill::{BackendChoice, GpuContext, Inputs, KlParams, LossSpec};
//!
//! # fn main() -> Result<(), wgpu_distill::Error> {
//! let ctx = GpuContext::new(BackendChoice::Auto)?;
//! let (b, c) = (4, 10);
//! let student: Vec<f32> = (0..b * c).map(|i| (i % 7) as f32 * 0.3).collect();
//! let teacher: Vec<f32> = (0..b * c).map(|i| (i % 5) as f32 * 0.5).collect();
//! let spec = LossSpec::Kl(KlParams::new(4.0));
//! let out = ctx.evaluate(&spec, &Inputs::new(&student, &teacher, &[b, c]), true)?;
//! println!("loss {} grad[0] {}", out.loss, out.grad.unwrap()[0]);
//!
//! // The float64 reference, same inputs:
//! let reference = wgpu_distill::reference::evaluate(&spec, &Inputs::new(&student, &teacher, &[b, c]))?;
//! assert!((reference.loss - out.loss as f64).abs() < 1e-4 * reference.loss.abs().max(1.0));
//! # Ok(()) }
//! ```

pub mod bench;
pub mod context;
pub mod error;
pub mod losses;
pub(crate) mod record;
pub mod reference;
mod scale;
pub mod shaders;
pub mod synthetic;
pub mod tensor;
pub mod tuning;

pub use context::{
    list_adapters, BackendChoice, CacheStats, GpuContext, Strategy, NO_ADAPTER_HELP,
};
pub use error::{Error, Result};
pub use losses::{
    DistParams, DistShardStats, Inputs, JsdParams, KlParams, LossBindings, LossOutput, LossSpec,
    SparseBindings, SparseTeacher, TokenOptions, TvdParams,
};
pub use tensor::{BufferRegion, InputDtype, Precision};
pub use tuning::{AdapterClass, Tuning};

/// Every Rust block of the README, compiled as a doctest (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
