//! DIST's passes for one block of rows, decided without a device: which kernels run, in which
//! order, with how many lanes, tiles and workgroups, and how many times each reads the inputs.
//! `DistPlan` materialises it (buffers, uniforms, bindings); the bench and the traffic tests
//! take DIST's read count from it.

use crate::error::Result;
use crate::kernel::{Kernel, CACHE_PER_LANE, WORKGROUP_SIZE};
use crate::plan::column_groups;
use crate::strategy::Strategy;
use crate::tuning::Tuning;

use super::kernels::{
    DIST_COLUMN_MERGE, DIST_COLUMN_PARTIALS, DIST_COLUMN_PARTIALS_QUADS, DIST_GRAD,
    DIST_GRAD_CACHED, DIST_GRAD_QUADS, DIST_GRAD_QUADS_ROWS4, DIST_GRAD_QUADS_ROWS8, DIST_ROWS,
    DIST_ROWS_ONE_READ, DIST_ROWS_ONE_READ_QUADS, DIST_ROWS_QUADS, DIST_TILE,
};

/// Elements per lane the fused tile kernel keeps (one vec4 in `dist_tile.wgsl`).
pub(super) const TILE_CACHE: usize = CACHE_PER_LANE as usize;

/// One pass of DIST: its kernel and how many times it reads each input element.
#[derive(Clone, Copy, Debug)]
pub struct Pass {
    pub kernel: Kernel,
    pub input_reads: u32,
}

impl Pass {
    fn new(kernel: Kernel, input_reads: u32) -> Self {
        Self {
            kernel,
            input_reads,
        }
    }
}

/// The choices behind one DIST call on B×C rows.
#[derive(Clone, Debug)]
pub struct DistLayout {
    pub rows: usize,
    pub cols: usize,
    pub threads_per_row: u32,
    /// Rows held in registers for the statistics: the fused tile pass.
    pub fused: bool,
    /// Rows held in registers for the gradient.
    pub cached_grad: bool,
    /// Four classes per load in the row and gradient passes.
    pub quads: bool,
    /// Four classes per lane in the column pass too (`Tuning::dist_column_quads`).
    pub column_quads: bool,
    /// The streaming row pass reads each row once.
    pub one_read_rows: bool,
    /// Rows per segment of the quad gradient pass (1 elsewhere).
    pub grad_rows: usize,
    /// Workgroups of the merge (one lane per column).
    pub col_groups: u32,
    /// Workgroups of the column pass per tile (one lane per column, or per four columns).
    pub partial_groups: u32,
    /// Rows per column tile.
    pub tile_rows: usize,
    /// Row statistics and column moments: the fused tile pass, or the row and column passes.
    pub statistics: Statistics,
    /// The gradient pass, when one is asked for. It folds the loss (a batch in one block) or a
    /// `finish` follows (`DistPlan` adds it).
    pub grad: Option<Pass>,
}

/// How DIST gathers its statistics.
#[derive(Clone, Copy, Debug)]
pub enum Statistics {
    /// One read of each input: rows held in registers (`dist_tile`).
    Fused(Pass),
    /// The row pass, then the column pass over tiles of rows.
    Streaming { rows: Pass, columns: Pass },
}

impl DistLayout {
    /// The layout of a B = `rows` by C = `cols` call under `strategy` on an adapter with
    /// `tuning`, where `quads_allowed` says whether the bindings allow four classes per load
    /// (C a multiple of 4, offsets aligned).
    pub fn new(
        strategy: &Strategy,
        tuning: &Tuning,
        rows: usize,
        cols: usize,
        quads_allowed: bool,
        want_grad: bool,
    ) -> Result<Self> {
        let threads_per_row = strategy
            .threads_per_row
            .unwrap_or_else(|| tuning.threads_per_row(cols));
        let fused = strategy.holds_rows(cols, WORKGROUP_SIZE, TILE_CACHE as u32);
        let cached_grad = strategy.holds_rows(cols, threads_per_row, CACHE_PER_LANE);
        let quads = !fused && strategy.quads != Some(false) && quads_allowed;
        let column_quads = quads && tuning.dist_column_quads;
        let one_read_rows = strategy.dist_row_reads.unwrap_or(tuning.dist_row_reads) == 1;
        let grad_rows = if quads && !cached_grad {
            strategy.dist_grad_rows.unwrap_or(tuning.dist_grad_rows) as usize
        } else {
            1
        };
        let col_groups = column_groups(cols)?;
        let partial_groups = if column_quads {
            column_groups(cols / 4)?
        } else {
            col_groups
        };
        // Fused: about 256 tiles (workgroups); streaming: the tuning's tile count.
        let tile_rows = strategy.tile_rows.unwrap_or_else(|| {
            if fused {
                rows.div_ceil(256).clamp(1, 64) as u32
            } else {
                tuning.tile_rows(rows, partial_groups)
            }
        }) as usize;
        let statistics = if fused {
            Statistics::Fused(Pass::new(DIST_TILE, 1))
        } else {
            Statistics::Streaming {
                rows: match (quads, one_read_rows) {
                    (true, true) => Pass::new(DIST_ROWS_ONE_READ_QUADS, 1),
                    (true, false) => Pass::new(DIST_ROWS_QUADS, 2),
                    (false, true) => Pass::new(DIST_ROWS_ONE_READ, 1),
                    (false, false) => Pass::new(DIST_ROWS, 2),
                },
                columns: if column_quads {
                    Pass::new(DIST_COLUMN_PARTIALS_QUADS, 1)
                } else {
                    Pass::new(DIST_COLUMN_PARTIALS, 1)
                },
            }
        };
        // The streaming gradient reads a row twice: ⟨G, ys⟩, then the writes.
        let grad = want_grad.then(|| {
            if cached_grad {
                Pass::new(DIST_GRAD_CACHED, 1)
            } else if quads && grad_rows == 8 {
                Pass::new(DIST_GRAD_QUADS_ROWS8, 2)
            } else if quads && grad_rows == 4 {
                Pass::new(DIST_GRAD_QUADS_ROWS4, 2)
            } else if quads {
                Pass::new(DIST_GRAD_QUADS, 2)
            } else {
                Pass::new(DIST_GRAD, 2)
            }
        });
        Ok(Self {
            rows,
            cols,
            threads_per_row,
            fused,
            cached_grad,
            quads,
            column_quads,
            one_read_rows,
            grad_rows,
            col_groups,
            partial_groups,
            tile_rows,
            statistics,
            grad,
        })
    }

    /// The passes of one block of rows, in dispatch order (without a `finish`).
    pub fn passes(&self) -> Vec<Pass> {
        let mut passes = match self.statistics {
            Statistics::Fused(tile) => vec![tile],
            Statistics::Streaming { rows, columns } => vec![rows, columns],
        };
        passes.push(Pass::new(DIST_COLUMN_MERGE, 0));
        passes.extend(self.grad);
        passes
    }

    /// How many times the call reads each input element: the sum over its passes.
    pub fn input_reads(&self) -> u32 {
        self.passes().iter().map(|p| p.input_reads).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuning::{CPU_RASTERIZER, GPU};

    fn entries(layout: &DistLayout) -> Vec<&'static str> {
        layout.passes().iter().map(|p| p.kernel.entry).collect()
    }

    #[test]
    fn a_gpu_streams_with_one_read_rows_and_one_element_columns() {
        let s = Strategy::default();
        let l = DistLayout::new(&s, &GPU, 4096, 1000, true, true).unwrap();
        assert_eq!(
            entries(&l),
            [
                "dist_rows_one_read_quads",
                "dist_column_partials",
                "dist_column_merge",
                "dist_grad_quads"
            ]
        );
        assert_eq!(l.input_reads(), 4);
        assert_eq!(
            (l.threads_per_row, l.tile_rows, l.partial_groups),
            (64, 64, 4)
        );
        let l = DistLayout::new(&s, &GPU, 512, 32000, true, false).unwrap();
        assert_eq!(l.input_reads(), 2);
        assert_eq!(
            (l.threads_per_row, l.tile_rows, l.partial_groups),
            (256, 16, 125)
        );
    }

    #[test]
    fn a_cpu_rasterizer_keeps_its_quad_columns_and_eight_gradient_rows() {
        let s = Strategy::default();
        let l = DistLayout::new(&s, &CPU_RASTERIZER, 1024, 1000, true, true).unwrap();
        assert_eq!(
            entries(&l),
            [
                "dist_rows_one_read_quads",
                "dist_column_partials_quads",
                "dist_column_merge",
                "dist_grad_quads_rows8"
            ]
        );
        assert_eq!(
            (l.threads_per_row, l.tile_rows, l.input_reads()),
            (8, 128, 4)
        );
    }

    #[test]
    fn forced_paths_change_the_read_count() {
        let two_reads = Strategy {
            dist_row_reads: Some(2),
            ..Strategy::default()
        };
        let l = DistLayout::new(&two_reads, &GPU, 256, 1000, true, true).unwrap();
        assert_eq!(l.input_reads(), 5);
        let fused = Strategy {
            cached_rows: Some(true),
            ..Strategy::default()
        };
        // C = 1000 fits the fused tile (256 lanes × 4) and the cached gradient at 256 lanes.
        let l = DistLayout::new(
            &Strategy {
                threads_per_row: Some(256),
                ..fused
            },
            &GPU,
            256,
            1000,
            true,
            true,
        )
        .unwrap();
        assert_eq!(
            entries(&l),
            ["dist_tile", "dist_column_merge", "dist_grad_cached"]
        );
        assert_eq!(l.input_reads(), 2);
        // Too wide to hold: streaming again.
        let l = DistLayout::new(&fused, &GPU, 256, 32000, true, false).unwrap();
        assert_eq!(l.input_reads(), 2);
        assert!(!l.fused);
        // No quads where the bindings do not allow them.
        let l = DistLayout::new(&Strategy::default(), &GPU, 8, 1001, false, true).unwrap();
        assert_eq!(
            entries(&l),
            [
                "dist_rows_one_read",
                "dist_column_partials",
                "dist_column_merge",
                "dist_grad"
            ]
        );
    }
}
