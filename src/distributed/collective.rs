//! The transport a group of members shares: three methods, so that MPI, threads, or a
//! framework's own process group can carry it.

use crate::error::Result;

/// The members that together hold one batch, each with its own rows.
pub trait Collective {
    /// This member's index, in `[0, size)`.
    fn rank(&self) -> usize;
    /// How many members.
    fn size(&self) -> usize;
    /// Every member's `local` (the same length on all), concatenated in rank order. Every
    /// member must call it (the same number of times); unequal lengths are an `Err` on all.
    fn all_gather(&self, local: &[f64]) -> Result<Vec<f64>>;
}
