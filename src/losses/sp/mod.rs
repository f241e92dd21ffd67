//! SP (similarity preserving, Tung & Mori, ICCV 2019): the row-normalised B×B similarities of
//! the batch, `L = ‖Ĝt − Ĝs‖²_F / B²`. Teacher and student may differ in width.
//!
//! This folder: `sp.wgsl` (per-row loss and ∂L/∂Gs), `sp_coefficients.wgsl` (M + Mᵀ), on the
//! shared Grams and gradient of `../batch_gram/`, then `finish.wgsl`; table entries in
//! `kernels.rs`; the float64 twin in `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::error::Result;
use crate::losses::batch_gram::{self, check_embeddings, widths};
use crate::losses::common::{BatchCoupling, Inputs, Loss};
use crate::losses::registry::Entry;
use crate::plan::{IoLayout, Plan, PlanEnv};
use kernels::{SP_COEFFICIENTS, SP_ROWS};

/// SP's name and kernels (it has no parameters).
pub const REGISTRATION: Entry<Sp> = Entry {
    name: "sp",
    params: &[],
    kernels: kernels::KERNELS,
    build: |_| Ok(Sp),
};

/// SP: no parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sp;

impl Loss for Sp {
    fn name(&self) -> &'static str {
        "sp"
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
        batch_gram::plan("sp", SP_ROWS, SP_COEFFICIENTS, env, shape, io)
    }

    fn reference(
        &self,
        student: &[f64],
        teacher: &[f64],
        inputs: &Inputs<'_>,
    ) -> Result<(f64, Vec<f64>)> {
        let (b, ds, _) = widths(inputs.shape, None);
        let (_, dt, _) = widths(inputs.teacher_dims(), None);
        Ok(reference::sp(student, teacher, b, ds, dt))
    }
}
