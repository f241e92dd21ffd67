//! Shared test helpers: one cached context per backend, the test jobs, and (in `fixtures`) the
//! golden cases and the comparisons.
#![allow(dead_code)]

mod fixtures;

use std::sync::OnceLock;

use wgpu_distill::losses::{AtParams, DkdParams, IckdParams, RkdParams};
use wgpu_distill::{
    synthetic, BackendChoice, DistParams, GpuContext, Inputs, JsdParams, KlParams, LossOutput,
    LossSpec, TokenOptions, TvdParams,
};

pub use fixtures::*;

/// The GPU backends every GPU test runs on.
pub const GPU_BACKENDS: [BackendChoice; 2] = [BackendChoice::Vulkan, BackendChoice::Gl];

/// A context for `backend`, created once per test binary. Fails (never skips) without one.
pub fn gpu(backend: BackendChoice) -> &'static GpuContext {
    static VULKAN: OnceLock<GpuContext> = OnceLock::new();
    static GL: OnceLock<GpuContext> = OnceLock::new();
    let cell = match backend {
        BackendChoice::Vulkan => &VULKAN,
        BackendChoice::Gl => &GL,
        other => panic!("no cached context for {other:?}"),
    };
    cell.get_or_init(|| fresh_gpu(backend))
}

/// A new context (for tests that change its strategy).
pub fn fresh_gpu(backend: BackendChoice) -> GpuContext {
    GpuContext::new(backend).unwrap_or_else(|e| {
        panic!(
            "{backend:?} adapter required: {e}\n{}",
            wgpu_distill::NO_ADAPTER_HELP
        )
    })
}

pub struct Job {
    pub spec: LossSpec,
    pub dims: Vec<usize>,
    pub student: Vec<f32>,
    pub teacher: Vec<f32>,
    pub labels: Option<Vec<i64>>,
}

impl Job {
    pub fn run(&self, ctx: &GpuContext) -> LossOutput {
        let mut inputs = Inputs::new(&self.student, &self.teacher, &self.dims);
        if let Some(l) = &self.labels {
            inputs = inputs.with_labels(l);
        }
        ctx.evaluate(&self.spec, &inputs, true).unwrap()
    }

    pub fn inputs(&self) -> Inputs<'_> {
        let mut inputs = Inputs::new(&self.student, &self.teacher, &self.dims);
        if let Some(l) = &self.labels {
            inputs = inputs.with_labels(l);
        }
        inputs
    }
}

/// Token options used by the test jobs: a hard term at T != 1 (its own log-sum-exp).
pub fn hard_options() -> TokenOptions {
    TokenOptions::default()
        .with_hard_weight(0.3)
        .with_soft_weight(0.7)
}

/// Token labels for `rows` rows of `cols` classes: every fifth row (from row 3) ignored.
pub fn token_labels(rows: usize, cols: usize) -> Vec<i64> {
    (0..rows as i64)
        .map(|r| {
            if r % 5 == 3 {
                wgpu_distill::losses::DEFAULT_IGNORE_INDEX
            } else {
                (r * 7) % cols as i64
            }
        })
        .collect()
}

/// One evaluation of every loss (DIST and TTM twice, the token losses with masking and a hard term),
/// on odd shapes.
pub fn jobs() -> Vec<Job> {
    let specs: [(LossSpec, Vec<usize>); 16] = [
        (LossSpec::Kl(KlParams::new(2.0)), vec![33, 100]),
        (LossSpec::Dist(DistParams::default()), vec![64, 257]),
        (LossSpec::Dkd(DkdParams::default()), vec![16, 10]),
        (LossSpec::Fitnet, vec![4, 8, 5, 5]),
        (LossSpec::At(AtParams::default()), vec![3, 4, 6, 6]),
        (LossSpec::Rkd(RkdParams::default()), vec![12, 9]),
        (LossSpec::Hcl, vec![2, 3, 7, 7]),
        (LossSpec::Ickd(IckdParams::default()), vec![3, 5, 4, 3]),
        (
            LossSpec::Dist(
                DistParams::default()
                    .with_temperature(4.0)
                    .with_beta(2.0)
                    .with_gamma(1.0),
            ),
            vec![7, 1000],
        ),
        (
            LossSpec::Kl(
                KlParams::default()
                    .with_temperature(2.0)
                    .with_options(hard_options()),
            ),
            vec![21, 130],
        ),
        (
            LossSpec::Jsd(
                JsdParams::default()
                    .with_temperature(1.5)
                    .with_beta(0.3)
                    .with_options(hard_options()),
            ),
            vec![19, 257],
        ),
        (
            LossSpec::Tvd(TvdParams::default().with_temperature(1.0)),
            vec![23, 96],
        ),
        (
            LossSpec::Ttm(wgpu_distill::TtmParams::new(0.1).with_weighted(true)),
            vec![17, 100],
        ),
        (
            LossSpec::Ttm(wgpu_distill::TtmParams::default()),
            vec![9, 37],
        ),
        (
            LossSpec::Nkd(wgpu_distill::NkdParams::new(3.0, 3.5)),
            vec![16, 10],
        ),
        (
            LossSpec::Kl(
                KlParams::new(2.0).with_options(
                    hard_options()
                        .with_standardize(true)
                        .with_temperature_grad(true),
                ),
            ),
            vec![22, 131],
        ),
    ];
    specs
        .into_iter()
        .enumerate()
        .map(|(i, (spec, dims))| {
            let n: usize = dims.iter().product();
            // The token losses (jobs 9 to 11, and LS with CTKD) mask rows; DKD and NKD need
            // their targets.
            let labels = if (9..12).contains(&i) || i == 15 {
                Some(token_labels(dims[0], dims[1]))
            } else {
                spec.needs_labels()
                    .then(|| (0..dims[0] as i64).map(|r| r % dims[1] as i64).collect())
            };
            Job {
                spec,
                student: synthetic::normal_vec(i as u64, n, 2.0),
                teacher: synthetic::normal_vec(i as u64 + 50, n, 2.0),
                dims,
                labels,
            }
        })
        .collect()
}

/// ∂L/∂T against autograd: relative, as the loss (PyTorch float32 reaches 3e-5 to 5e-5 on the
/// golden CTKD cases; the per-row sum is a difference of terms).
pub const GRAD_TEMPERATURE_REL: f64 = 1e-4;

/// One golden case of `spec`: the float64 reference within 1e-9 of the case (the same formula),
/// then Vulkan and GL within SPEC's float32 tolerances, the loss alone bitwise equal to the loss
/// with the gradient.
pub fn check_golden_case(case: &Golden, spec: &LossSpec) {
    let (student, teacher, want_grad) = (case.student(), case.teacher(), case.grad());
    let labels = case.labels();
    let mut inputs = wgpu_distill::Inputs::new(&student, &teacher, &case.shape);
    if let Some(labels) = &labels {
        inputs = inputs.with_labels(labels);
    }
    if let Some(teacher_shape) = &case.teacher_shape {
        inputs = inputs.with_teacher_shape(teacher_shape);
    }
    let cpu = wgpu_distill::reference::evaluate(spec, &inputs).unwrap();
    let rel = (cpu.loss - case.expected_loss).abs() / case.expected_loss.abs();
    assert!(
        rel < 1e-9,
        "{}: reference loss {} vs {}",
        case.name,
        cpu.loss,
        case.expected_loss
    );
    let scale = want_grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    for (i, (g, w)) in cpu.grad.iter().zip(&want_grad).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 * scale.max(1.0),
            "{}: reference gradient [{i}] {g} vs {w}",
            case.name
        );
    }
    match (case.expected_grad_temperature, cpu.grad_temperature) {
        (Some(want), Some(got)) => assert!(
            (got - want).abs() <= 1e-9 * want.abs(),
            "{}: reference ∂L/∂T {got} vs {want}",
            case.name
        ),
        (want, got) => assert_eq!(want, got, "{}: reference ∂L/∂T", case.name),
    }
    for backend in GPU_BACKENDS {
        let out = gpu(backend).evaluate(spec, &inputs, true).unwrap();
        if let Some(want) = case.expected_grad_temperature {
            let got = f64::from(out.grad_temperature.expect("∂L/∂T returned"));
            let rel = (got - want).abs() / want.abs();
            assert!(
                rel < GRAD_TEMPERATURE_REL,
                "{} on {backend:?}: ∂L/∂T {got} vs {want} (relative {rel:.2e})",
                case.name
            );
        }
        assert_close(
            &format!("{} on {backend:?}", case.name),
            f64::from(out.loss),
            out.grad.as_deref().unwrap(),
            case.expected_loss,
            &want_grad,
        );
        let loss_only = gpu(backend).evaluate(spec, &inputs, false).unwrap();
        assert_eq!(
            loss_only.loss.to_bits(),
            out.loss.to_bits(),
            "{}: loss without gradient",
            case.name
        );
        assert!(loss_only.grad.is_none());
    }
}
