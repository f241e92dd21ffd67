//! # wgpu-distill
//!
//! GPU compute kernels (WGSL, through wgpu: Vulkan, Metal, DX12, GL) for knowledge-distillation
//! losses: the loss AND its gradient with respect to the student, with a float64 CPU reference
//! for every loss.
//!
//! Losses: Hinton KD, DIST, DKD, TTM/WTTM, NKD, FitNet, AT, RKD, ICKD, ReviewKD's HCL, and the token losses of
//! language-model distillation (generalized JSD, TVD, masking, a fused hard-label term, sparse
//! top-k teachers: [`TokenOptions`], [`SparseTeacher`]).
//!
//! Two ways in:
//! - host slices: [`GpuContext::evaluate`] (blocking) or [`GpuContext::evaluate_async`];
//! - embedding: [`GpuContext::from_device`] borrows your device and queue, and
//!   [`GpuContext::record`] records into your `CommandEncoder`, on your buffers, with no
//!   submit and no readback.
//!
//! A batch spread over threads or MPI ranks: [`GpuContext::evaluate_distributed`] with a
//! [`distributed::Collective`] gives every member the whole batch's loss and the gradient of
//! its own rows.
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

/// `with_<field>` setters on a parameter struct: `setters!(T { with_a(a: f64), … })`. With
/// `T::default()` (or `T { a, ..Default::default() }`) they let programs set fields without
/// naming every one, so adding a field with a default breaks no caller.
macro_rules! setters {
    ($ty:ident { $( $(#[$doc:meta])* $name:ident($field:ident: $fty:ty) ),* $(,)? }) => {
        impl $ty {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(mut self, $field: $fty) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}

pub mod bench;
pub mod context;
pub mod distributed;
pub mod error;
mod gpu;
pub mod kernel;
pub mod losses;
pub mod plan;
pub mod reference;
mod scale;
pub mod shaders;
pub mod strategy;
pub mod synthetic;
pub mod tensor;
pub mod tuning;

pub use error::{Error, Result};
pub use gpu::{
    list_adapters, AdapterSummary, BackendChoice, CacheStats, GpuContext, NO_ADAPTER_HELP,
};
pub use losses::{
    AtParams, DistParams, DistShardStats, DkdParams, IckdDenominator, IckdParams, Inputs,
    JsdParams, KlParams, LossBindings, LossOutput, LossSpec, MlkdParams, NkdParams, ParamValues,
    RkdParams, SklParams, SparseBindings, SparseTeacher, SrklParams, TokenOptions, TtmParams,
    TvdParams,
};
pub use strategy::Strategy;
pub use tensor::{BufferRegion, InputDtype, Precision};
pub use tuning::{AdapterClass, Tuning};

/// Every Rust block of the README, compiled as a doctest (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
