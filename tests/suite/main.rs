//! The library's test suite, one binary: a module per topic (each was a test binary of its
//! own). Most need the Vulkan and GL adapters (lavapipe and llvmpipe on a machine without a
//! GPU) and fail, never skip, without them; `gradcheck`, `readme`, `reference_token` and
//! `shaders` need none. The command line's tests are in `cli/tests/`.

/// The repository's `tests/fixtures/` (golden cases).
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The command line's `.npy` reader: the golden cases are `.npy` files.
#[path = "../../cli/src/npy.rs"]
#[allow(dead_code)]
mod npy;

mod common;

mod api;
mod bench;
mod chunks;
mod determinism;
mod distributed;
mod dtypes;
mod embed;
mod errors;
mod family;
mod faults;
mod fidelity;
mod golden;
mod gradcheck;
mod logit_options;
mod mlkd;
mod more_losses;
mod readme;
mod reference_token;
mod relational;
mod shaders;
mod shapes;
mod shards;
mod skew_softcap;
mod sparse_over_ids;
mod subgroups;
mod threads;
mod token;
mod traffic;
mod train_student;
mod tuning;
