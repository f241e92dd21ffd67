//! The defaults each class of adapter measured fastest with: what a [`Strategy`]'s `None`
//! fields resolve to. One row per class, chosen from what the adapter reports (its device
//! type), never from its vendor's name; every value cites the run that chose it
//! (`docs/performance.md`, raw output under `docs/measurements/`).
//!
//! [`Strategy`]: crate::Strategy

use crate::kernel::WORKGROUP_SIZE;

/// The kinds of adapter whose defaults differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdapterClass {
    /// A CPU rasteriser (Mesa's lavapipe and llvmpipe, WARP): it runs a workgroup as SIMD loops,
    /// where every barrier and every load instruction costs.
    CpuRasterizer,
    /// A GPU, discrete, integrated or virtual.
    Gpu,
}

impl AdapterClass {
    /// The class of the adapter `info` describes.
    pub fn of(info: &wgpu::AdapterInfo) -> Self {
        match info.device_type {
            wgpu::DeviceType::Cpu => Self::CpuRasterizer,
            _ => Self::Gpu,
        }
    }
}

/// Lanes per row of the row-wise kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lanes {
    /// The same count at every C.
    Fixed(u32),
    /// About `classes_per_lane` classes a lane, as a power of two within [`min`, `max`].
    ///
    /// [`min`]: Lanes::PerClasses::min
    /// [`max`]: Lanes::PerClasses::max
    PerClasses {
        classes_per_lane: u32,
        min: u32,
        max: u32,
    },
}

/// The defaults of one class of adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    pub class: AdapterClass,
    /// Lanes per row (`Strategy::threads_per_row`).
    pub lanes: Lanes,
    /// Tiles DIST's column pass aims for (`Strategy::tile_rows`).
    pub column_tiles: u32,
    /// Tiles when a row fits one column workgroup (C up to 1024 with quads).
    pub column_tiles_one_group: u32,
    /// Rows per segment of DIST's quad gradient pass (`Strategy::dist_grad_rows`).
    pub dist_grad_rows: u32,
    /// Reads of each input by DIST's streaming row pass (`Strategy::dist_row_reads`).
    pub dist_row_reads: u32,
    /// Whether DIST's column pass takes four classes a lane where the other kernels do
    /// (`Strategy::quads`): fewer load instructions, a quarter of the lanes. Both forms
    /// accumulate each column in the same order: the moments are bitwise the same.
    pub dist_column_quads: bool,
}

/// CPU rasterisers, measured on lavapipe (Mesa 22.3.6, 2 cores; `docs/performance.md`):
/// - 8 lanes (its SIMD width): KL 4096×1000 ran 3.6× faster than with 256;
/// - about 8 column tiles where a row fits one column workgroup (DIST forward+grad at
///   1024×1000: 278 against 297 instructions per element), short tiles otherwise (one tile of
///   512 rows at 512×32000 ran 1.4× slower);
/// - DIST's gradient 8 rows a segment (1024×1000: 260 instructions per element against 380
///   with 1) and its row pass in one read (260 against 302.5).
pub const CPU_RASTERIZER: Tuning = Tuning {
    class: AdapterClass::CpuRasterizer,
    lanes: Lanes::Fixed(8),
    column_tiles: 64,
    column_tiles_one_group: 8,
    dist_grad_rows: 8,
    dist_row_reads: 1,
    dist_column_quads: true,
};

/// GPUs, measured on an NVIDIA H200 through Vulkan (`docs/measurements/h200-2026-12-04/`,
/// forward+grad, fractions of the roofline measured beside each loss):
/// - lanes: about 16 classes a lane, 32 to 256 (KL 0.43 at 4096×1000 with 64 lanes, 0.44 with
///   32, 0.28 with 256; 0.48 at 512×32000 with 256, 0.37 with 128, 0.24 with 64): every
///   default shape within 0.85 of its best lane count;
/// - DIST's row pass in one read: better at every shape (512×32000: the row kernel 0.061 ms
///   against 0.097 with two reads; 4096×1000: 0.026 against 0.037 ms);
/// - DIST's gradient 1 row a segment (4 and 8 measured slower at every shape: 4096×1000
///   fractions 0.12, 0.11, 0.10);
/// - DIST's column pass one class a lane: its one-element kernel ran 1.6 to 2.8 times faster
///   than the quad kernel at every shape (`h200-2026-12-04-followup/`: 4096×1000 0.035
///   against 0.062 ms, 512×32000 0.069 against 0.191 ms), a quarter of the lanes being too few
///   to keep the GPU's memory busy, while the quad row and gradient kernels stayed faster;
/// - 64 column tiles: 16, 32 and 256 rows a tile measured no better over the shapes
///   (32 rows: 0.15 against 0.13 at 512×32000, 0.12 against 0.13 at 4096×1000, 0.17 against
///   0.20 at 8192×32000).
pub const GPU: Tuning = Tuning {
    class: AdapterClass::Gpu,
    lanes: Lanes::PerClasses {
        classes_per_lane: 16,
        min: 32,
        max: WORKGROUP_SIZE,
    },
    column_tiles: 64,
    column_tiles_one_group: 64,
    dist_grad_rows: 1,
    dist_row_reads: 1,
    dist_column_quads: false,
};

/// Every class's defaults, in one place.
pub const TUNING_TABLE: [Tuning; 2] = [CPU_RASTERIZER, GPU];

impl Tuning {
    /// The row of [`TUNING_TABLE`] for `class`.
    pub fn for_class(class: AdapterClass) -> &'static Tuning {
        TUNING_TABLE
            .iter()
            .find(|t| t.class == class)
            .unwrap_or(&TUNING_TABLE[0])
    }

    /// The defaults of the adapter `info` describes.
    pub fn for_adapter(info: &wgpu::AdapterInfo) -> &'static Tuning {
        Self::for_class(AdapterClass::of(info))
    }

    /// Lanes per row at C = `cols`.
    pub fn threads_per_row(&self, cols: usize) -> u32 {
        match self.lanes {
            Lanes::Fixed(lanes) => lanes,
            Lanes::PerClasses {
                classes_per_lane,
                min,
                max,
            } => {
                let per_lane = cols.div_ceil(classes_per_lane as usize).max(1);
                (per_lane.next_power_of_two() as u32).clamp(min, max)
            }
        }
    }

    /// Rows per column tile of DIST for `rows` rows when the column pass has `column_groups`
    /// workgroups per tile (16 to 1024).
    pub fn tile_rows(&self, rows: usize, column_groups: u32) -> u32 {
        let tiles = if column_groups <= 1 {
            self.column_tiles_one_group
        } else {
            self.column_tiles
        };
        (rows.div_ceil(tiles as usize).next_power_of_two() as u32).clamp(16, 1024)
    }
}
