//! Every kernel by name, for tests and tools: the kernel machinery (`crate::kernel`), each
//! loss's kernels (declared beside its WGSL, `src/losses/<loss>/kernels.rs`) and
//! [`ALL_KERNELS`], gathered from the loss registry, so that tests can validate every shader
//! with naga and compare the bindings declared with the ones reflected from the WGSL.

use std::sync::LazyLock;

pub use crate::kernel::*;
pub use crate::losses::at::kernels::AT_SAMPLES;
/// RKD's gradient M·E is the similarity losses' C·F (the name stays for callers of last week).
pub use crate::losses::batch_gram::kernels::BATCH_GRAM_GRAD as RKD_GRAD;
pub use crate::losses::batch_gram::kernels::{
    BATCH_GRAM, BATCH_GRAM_GRAD, BATCH_GRAM_SUM, GRAM_LIB,
};
pub use crate::losses::dist::kernels::{
    DIST_COLUMN_MERGE, DIST_COLUMN_PARTIALS, DIST_COLUMN_PARTIALS_QUADS, DIST_COLUMN_REDUCE,
    DIST_GRAD, DIST_GRAD_CACHED, DIST_GRAD_LIB, DIST_GRAD_QUADS, DIST_GRAD_QUADS_ROWS4,
    DIST_GRAD_QUADS_ROWS8, DIST_LIB, DIST_ROWS, DIST_ROWS_ONE_READ, DIST_ROWS_ONE_READ_QUADS,
    DIST_ROWS_QUADS, DIST_TILE,
};
pub use crate::losses::dkd::kernels::{DKD_LIB, DKD_ROWS, DKD_ROWS_QUADS};
pub use crate::losses::fitnet::kernels::FITNET_BLOCKS;
pub use crate::losses::hcl::kernels::HCL_PLANES;
pub use crate::losses::ickd::kernels::{ICKD_GRAD, ICKD_GRAM, ICKD_LIB, ICKD_ROWS};
pub use crate::losses::kl::kernels::{KL_LIB, KL_ROWS, KL_ROWS_CACHED, KL_ROWS_QUADS};
pub use crate::losses::rkd::kernels::{
    RKD_ANGLE, RKD_COEFFICIENTS, RKD_DISTANCE, RKD_GRAM, RKD_LIB,
};
pub use crate::losses::token::kernels::{
    TOKEN_COUNT, TOKEN_JSD_LIB, TOKEN_JSD_ROWS, TOKEN_JSD_ROWS_QUADS, TOKEN_KL_LIB, TOKEN_KL_ROWS,
    TOKEN_KL_ROWS_QUADS, TOKEN_SPARSE_BITS, TOKEN_SPARSE_LIB, TOKEN_SPARSE_ROWS,
    TOKEN_SPARSE_ROWS_QUADS, TOKEN_TVD_LIB, TOKEN_TVD_ROWS, TOKEN_TVD_ROWS_QUADS,
};

/// Every kernel of the library, each once: the ones of no loss (`crate::kernel::KERNELS`),
/// then each registered loss's (`crate::losses::registry`).
pub static ALL_KERNELS: LazyLock<Vec<Kernel>> = LazyLock::new(|| {
    let mut all: Vec<Kernel> = crate::kernel::KERNELS.to_vec();
    for registration in crate::losses::REGISTRY {
        for kernel in registration.kernels {
            if !all.contains(kernel) {
                all.push(*kernel);
            }
        }
    }
    all
});
