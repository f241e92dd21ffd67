//! The public face of the engine, under its earlier path: [`GpuContext`] and what it is
//! configured with. The engine itself is `crate::gpu`; the strategy, `crate::strategy`.

pub use crate::gpu::{
    layout_entries, list_adapters, AdapterSummary, BackendChoice, CacheStats, GpuContext,
    NO_ADAPTER_HELP,
};
pub use crate::strategy::Strategy;
