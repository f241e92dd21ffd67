//! Batch-coupled losses across devices and processes: each member of a group holds some rows
//! of one batch, and [`crate::GpuContext::evaluate_distributed`] gives every member the loss
//! of the WHOLE batch (bit for bit the same on all) and the gradient of that loss with respect
//! to its own rows.
//!
//! What the members share is small and float64: a header (so members that disagree all get
//! the same error instead of waiting for each other), then the loss's batch statistics —
//! the count of valid rows (token losses), the row count (means over rows), DIST's column
//! moments (merged in rank order with Chan's formula). Losses whose terms relate every pair
//! of rows (RKD, SP, PKT, MLKD) are refused.
//!
//! The transport is a [`Collective`]: [`ThreadGroup`] for threads of one process (several
//! GPUs in one process), `MpiCollective` (feature `mpi`) for the ranks of an MPI job.
//!
//! A data-parallel trainer that SUMS its members' parameter gradients (MPI's all-reduce with
//! `SUM`) gets the whole batch's gradient exactly. One that AVERAGES them (as PyTorch's DDP
//! does) gets it divided by the member count: multiply by the count, or sum instead.

mod collective;
mod evaluate;
#[cfg(feature = "mpi")]
mod mpi;
mod thread_group;

#[cfg(feature = "mpi")]
pub use self::mpi::{MpiCollective, PANIC_EXIT_CODE, TIMEOUT_EXIT_CODE};
pub use collective::Collective;
pub use thread_group::ThreadGroup;
