//! How a call spreads its work: the [`Strategy`] a caller may force, resolved against the
//! adapter class's defaults (`crate::tuning`). Device-free: plans read it through
//! `crate::plan::PlanEnv`.

use crate::error::{Error, Result};
use crate::kernel::WORKGROUP_SIZE;
use crate::tuning::{AdapterClass, Tuning};

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
    /// second read saves. Kept, tested, for adapters where that balance differs. kl with LS
    /// or CTKD is the exception: its rows are held where they fit unless this is
    /// `Some(false)` (its row moments cost the same reductions either way, and holding saves
    /// two reads of three; lavapipe, 16384×32: 4.0 against 4.5 ms).
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

setters!(Strategy {
    with_threads_per_row(threads_per_row: Option<u32>),
    with_tile_rows(tile_rows: Option<u32>),
    with_cached_rows(cached_rows: Option<bool>),
    with_chunk_rows(chunk_rows: Option<usize>),
    with_quads(quads: Option<bool>),
    with_subgroups(subgroups: Option<bool>),
    with_dist_grad_rows(dist_grad_rows: Option<u32>),
    with_dist_row_reads(dist_row_reads: Option<u32>),
});

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

    pub(crate) fn validate(&self) -> Result<()> {
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
