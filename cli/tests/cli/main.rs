//! The command line's tests, one binary: each runs the built `wgpu-distill` (Vulkan, GL and the
//! float64 reference) and reads what it prints and writes. A module per topic, named as the
//! library suite's module (`tests/suite/`) whose command-line tests these were.

/// The repository's `tests/fixtures/` (golden cases).
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");

/// The command line's own `.npy` module (inputs written, gradients read back).
#[path = "../../src/npy.rs"]
#[allow(dead_code)]
mod npy;

mod common;

mod bench;
mod dtypes;
mod errors;
mod golden;
mod shards;
mod token;
