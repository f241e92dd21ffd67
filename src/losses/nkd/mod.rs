//! NKD (normalized KD, Yang et al., ICCV 2023): the target term weighted by the teacher's
//! probability and the normalized non-target cross-entropy; labels required.
//!
//! This folder: `nkd.wgsl` (per-row terms and gradient; `nkd_quads.wgsl` four classes per
//! load; `nkd_common.wgsl` their declarations)
//! then `shaders/finish.wgsl`; the table entry in `kernels.rs`; the float64 twin in
//! `reference.rs`.

pub(crate) mod kernels;
pub mod reference;

use crate::error::{Error, Result};
use crate::losses::checks::{check_finite, check_temperature, require_rank};
use crate::losses::common::{Inputs, Loss};
use crate::losses::registry::Entry;
use crate::plan::{FinishUniform, IoLayout, Plan, PlanEnv};
use crate::tensor::LogitShape;
use kernels::{NKD_ROWS, NKD_ROWS_QUADS};

/// NKD's name, parameters and kernels.
pub const REGISTRATION: Entry<NkdParams> = Entry {
    name: "nkd",
    params: &["temperature", "gamma"],
    kernels: kernels::KERNELS,
    build: |v| {
        let d = NkdParams::default();
        Ok(NkdParams {
            temperature: v.number_or("temperature", d.temperature)?,
            gamma: v.number_or("gamma", d.gamma)?,
        })
    },
};

/// Parameters of NKD.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NkdParams {
    /// Temperature of the non-target term (> 0): 1 on ImageNet, 3 on CIFAR.
    pub temperature: f64,
    /// Weight γ of the non-target term: 1.5 on ImageNet, 3.5 on CIFAR.
    pub gamma: f64,
}

impl NkdParams {
    pub fn new(temperature: f64, gamma: f64) -> Self {
        Self { temperature, gamma }
    }
}

setters!(NkdParams {
    with_temperature(temperature: f64),
    with_gamma(gamma: f64),
});

impl Default for NkdParams {
    fn default() -> Self {
        Self::new(1.0, 1.5)
    }
}

/// Mirrors `NkdParams` in `nkd_common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct NkdUniform {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    inv_t: f32,
    gamma_t: f32,
    gamma_t2: f32,
    inv_b: f32,
    row_offset: u32,
    _pad: [u32; 3],
}

/// The row pass per block of rows, then the finish.
fn make_plan(env: &PlanEnv, params: &NkdParams, dims: &[usize], io: &IoLayout) -> Result<Plan> {
    if !io.labels {
        return Err(Error::Shape("nkd needs labels (one per row)".into()));
    }
    let shape = LogitShape::from_dims(dims)?;
    let (t, b) = (params.temperature, shape.rows as f64);
    let kernel = if env.quads(shape.cols, io) {
        NKD_ROWS_QUADS
    } else {
        NKD_ROWS
    };
    let mut plan = Plan::new("nkd", io.precision());
    let row_loss = plan.scratch("nkd.row_loss", shape.rows as u64 * 4);
    plan.logit_rows(
        env,
        io,
        kernel,
        (shape.rows, shape.cols),
        true,
        row_loss,
        |start, rows, groups_x| NkdUniform {
            rows: rows as u32,
            cols: shape.cols as u32,
            groups_x,
            write_grad: io.has_grad() as u32,
            inv_t: (1.0 / t) as f32,
            gamma_t: (params.gamma * t) as f32,
            gamma_t2: (params.gamma * t * t) as f32,
            inv_b: (1.0 / b) as f32,
            row_offset: start as u32,
            _pad: [0; 3],
        },
    )?;
    plan.finish(FinishUniform::single(shape.rows, 1.0 / b), row_loss);
    Ok(plan)
}

impl Loss for NkdParams {
    fn name(&self) -> &'static str {
        "nkd"
    }

    fn takes_16_bit_inputs(&self) -> bool {
        true
    }

    fn writes_16_bit_grad(&self) -> bool {
        false
    }

    fn needs_labels(&self) -> bool {
        true
    }

    fn takes_labels(&self) -> bool {
        true
    }

    fn labels_are_targets(&self) -> bool {
        true
    }

    fn check_params(&self) -> Result<()> {
        check_temperature(self.temperature)?;
        check_finite("nkd gamma", self.gamma)
    }

    fn check_shape(&self, dims: &[usize]) -> Result<()> {
        require_rank(self.name(), dims, 2, "B×C")
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
        let labels = inputs
            .labels
            .ok_or_else(|| Error::Shape("nkd needs labels (one per row)".into()))?;
        Ok(reference::nkd(
            student,
            teacher,
            labels,
            rows,
            cols,
            self.temperature,
            self.gamma,
        ))
    }
}
