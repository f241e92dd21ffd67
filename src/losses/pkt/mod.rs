//! PKT (probabilistic knowledge transfer, Passalis & Tefas, ECCV 2018): the cosine similarities
//! of the batch as row-stochastic matrices, `L` their mean KL over the B² entries. Teacher and
//! student may differ in width.
//!
//! This folder: `pkt.wgsl` (per-row loss and ∂L/∂S), `pkt_coefficients.wgsl` (the cosine's
//! chain rule), on the
//! shared Grams and gradient of `../batch_gram/`, then `finish.wgsl`; table entries in
//! `kernels.rs`; the float64 twin in `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::error::Result;
use crate::losses::batch_gram::{self, check_embeddings, widths};
use crate::losses::common::{BatchCoupling, Inputs, Loss};
use crate::losses::registry::Entry;
use crate::plan::{IoLayout, Plan, PlanEnv};
use kernels::{PKT_COEFFICIENTS, PKT_ROWS};

/// PKT's name and kernels (it has no parameters).
pub const REGISTRATION: Entry<Pkt> = Entry {
    name: "pkt",
    params: &[],
    kernels: kernels::KERNELS,
    build: |_| Ok(Pkt),
};

/// PKT: no parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pkt;

impl Loss for Pkt {
    fn name(&self) -> &'static str {
        "pkt"
    }

    /// Its B×B terms relate every pair of rows.
    fn batch_coupling(&self) -> BatchCoupling {
        BatchCoupling::Pairwise
    }

    fn takes_other_teacher_width(&self) -> bool {
        true
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        check_embeddings(self.name(), dims)
    }

    fn plan(&self, env: &PlanEnv, shape: &[usize], io: &IoLayout) -> Result<Plan> {
        batch_gram::plan("pkt", PKT_ROWS, PKT_COEFFICIENTS, env, shape, io)
    }

    fn reference(
        &self,
        student: &[f64],
        teacher: &[f64],
        inputs: &Inputs<'_>,
    ) -> Result<(f64, Vec<f64>)> {
        let (b, ds, _) = widths(inputs.shape, None);
        let (_, dt, _) = widths(inputs.teacher_dims(), None);
        Ok(reference::pkt(student, teacher, b, ds, dt))
    }
}
