//! TTM and WTTM (transformed teacher matching, Zheng & Yang, ICLR 2024): KL from the teacher
//! at power γ (`softmax(γ·zt)`) to the student at T = 1, each row weighted by `Σ_c p_t^γ` with
//! WTTM.
//!
//! This folder: `ttm.wgsl` (per-row terms and gradient; `ttm_quads.wgsl` four classes per
//! load; `ttm_common.wgsl` their declarations and the WTTM weight) then `shaders/finish.wgsl`;
//! the table entry in `kernels.rs`; the float64 twin in `reference.rs`. With LS
//! (`standardize`) the rows run kl's LS row function (`token_ls_rows.wgsl`) at T = 1 with the
//! teacher at power γ: the same machinery, no copy of it.

pub(crate) mod kernels;
pub mod reference;

use crate::error::{Error, Result};
use crate::losses::checks::require_rank;
use crate::losses::common::{Inputs, Loss};
use crate::losses::options::TokenOptions;
use crate::losses::registry::Entry;
use crate::losses::token::{self, TokenRows, TokenTerm};
use crate::plan::{FinishUniform, IoLayout, Plan, PlanEnv};
use crate::tensor::LogitShape;
use kernels::{TTM_ROWS, TTM_ROWS_QUADS};

/// TTM's name, parameters and kernels.
pub const REGISTRATION: Entry<TtmParams> = Entry {
    name: "ttm",
    params: &["power", "weighted", "standardize"],
    kernels: kernels::KERNELS,
    build: |v| {
        let d = TtmParams::default();
        Ok(TtmParams {
            power: v.number_or("power", d.power)?,
            weighted: v.flag("weighted")?.unwrap_or(d.weighted),
            standardize: v.flag("standardize")?.unwrap_or(d.standardize),
        })
    },
};

/// Parameters of TTM and WTTM.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TtmParams {
    /// The teacher's power γ (> 0): `softmax(γ·zt)`. 0.2 by default (the paper's TTM uses
    /// 0.1).
    pub power: f64,
    /// WTTM: weigh each row by `U = Σ_c p_t^γ`.
    pub weighted: bool,
    /// LS (SPEC "LS"): z-score both rows before the loss (`U` then comes from the
    /// standardized teacher). Needs C ≥ 2.
    pub standardize: bool,
}

impl TtmParams {
    /// TTM with teacher power `power`, rows unweighted.
    pub fn new(power: f64) -> Self {
        Self {
            power,
            weighted: false,
            standardize: false,
        }
    }
}

setters!(TtmParams {
    with_power(power: f64),
    /// WTTM (`true`) or TTM.
    with_weighted(weighted: bool),
    /// LS: z-score both inputs' rows before the loss.
    with_standardize(standardize: bool),
});

impl Default for TtmParams {
    fn default() -> Self {
        Self::new(0.2)
    }
}

/// Mirrors `TtmParams` in `ttm_common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct TtmUniform {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    gamma: f32,
    grad_scale: f32,
    row_offset: u32,
    weighted: u32,
}

/// The row pass per block of rows, then the finish.
fn make_plan(env: &PlanEnv, params: &TtmParams, dims: &[usize], io: &IoLayout) -> Result<Plan> {
    let shape = LogitShape::from_dims(dims)?;
    if params.standardize {
        return standardized_plan(env, params, &shape, io);
    }
    let b = shape.rows as f64;
    let kernel = if env.quads(shape.cols, io) {
        TTM_ROWS_QUADS
    } else {
        TTM_ROWS
    };
    let mut plan = Plan::new("ttm", io.precision());
    let row_loss = plan.scratch("ttm.row_loss", shape.rows as u64 * 4);
    plan.logit_rows(
        env,
        io,
        kernel,
        (shape.rows, shape.cols),
        false,
        row_loss,
        |start, rows, groups_x| TtmUniform {
            rows: rows as u32,
            cols: shape.cols as u32,
            groups_x,
            write_grad: io.has_grad() as u32,
            gamma: params.power as f32,
            grad_scale: (1.0 / b) as f32,
            row_offset: start as u32,
            weighted: params.weighted as u32,
        },
    )?;
    plan.finish(FinishUniform::single(shape.rows, 1.0 / b), row_loss);
    Ok(plan)
}

/// TTM and WTTM with LS: kl's LS row function (`token_ls_rows.wgsl`) at T = 1 with the
/// teacher's scale times γ and, for WTTM, each row weighted by `U`: no kernel of its own.
fn standardized_plan(
    env: &PlanEnv,
    params: &TtmParams,
    shape: &LogitShape,
    io: &IoLayout,
) -> Result<Plan> {
    let options = TokenOptions::default().with_standardize(true);
    let mut rows = TokenRows::new(TokenTerm::Kl, 1.0, 0.0, &options, shape, io)?;
    rows.base.teacher_power = params.power as f32;
    rows.base.weighted = params.weighted as u32;
    token::plan_rows(env, TokenTerm::Kl, &options, rows, shape, io)
}

impl Loss for TtmParams {
    fn name(&self) -> &'static str {
        "ttm"
    }

    fn takes_16_bit_inputs(&self) -> bool {
        true
    }

    fn writes_16_bit_grad(&self) -> bool {
        false
    }

    fn check_params(&self) -> Result<()> {
        if !self.power.is_finite() || self.power <= 0.0 {
            return Err(Error::Param(format!(
                "ttm power (gamma) must be finite and > 0, got {}",
                self.power
            )));
        }
        Ok(())
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        require_rank(self.name(), dims, 2, "B×C")?;
        if self.standardize {
            crate::losses::standardize::check_classes(dims[1])?;
        }
        Ok(())
    }

    fn plan(&self, env: &PlanEnv, shape: &[usize], io: &IoLayout) -> Result<Plan> {
        make_plan(env, self, shape, io)
    }

    fn reference(
        &self,
        student: &[f64],
        teacher: &[f64],
        inputs: &Inputs<'_>,
    ) -> Result<(f64, Vec<f64>)> {
        let (rows, cols) = (inputs.shape[0], inputs.shape[1]);
        let (gamma, weighted) = (self.power, self.weighted);
        if self.standardize {
            return reference::ttm_standardized(student, teacher, (rows, cols), gamma, weighted);
        }
        Ok(reference::ttm(
            student, teacher, rows, cols, gamma, weighted,
        ))
    }
}
