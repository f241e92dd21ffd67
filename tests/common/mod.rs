//! Shared test helpers: one cached context per backend, golden cases, comparisons.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use wgpu_distill::losses::{AtParams, DkdParams, IckdParams, RkdParams};
use wgpu_distill::{
    npy, synthetic, BackendChoice, DistParams, GpuContext, Inputs, KlParams, LossOutput, LossSpec,
};

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

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

/// One golden case of `tests/fixtures/golden/manifest.json`.
pub struct Golden {
    pub name: String,
    pub loss: String,
    pub params: serde_json::Value,
    pub shape: Vec<usize>,
    pub expected_loss: f64,
    pub dir: PathBuf,
}

impl Golden {
    pub fn student(&self) -> Vec<f32> {
        npy::read_floats(&self.dir.join("student.npy")).unwrap().1
    }
    pub fn teacher(&self) -> Vec<f32> {
        npy::read_floats(&self.dir.join("teacher.npy")).unwrap().1
    }
    pub fn grad(&self) -> Vec<f64> {
        npy::read_f64(&self.dir.join("grad_student.npy")).unwrap().1
    }
    /// Labels (DKD cases), if the case has them.
    pub fn labels(&self) -> Option<Vec<i64>> {
        let path = self.dir.join("labels.npy");
        path.exists().then(|| npy::read_labels(&path).unwrap().1)
    }
    fn param(&self, key: &str, default: f64) -> f64 {
        self.params
            .get(key)
            .and_then(|v| v.as_f64())
            .unwrap_or(default)
    }
    /// The loss spec of this case, for the losses the library implements.
    pub fn spec(&self) -> Option<LossSpec> {
        match self.loss.as_str() {
            "kl" => Some(LossSpec::Kl(KlParams {
                temperature: self.param("temperature", 1.0),
            })),
            "dist" => Some(LossSpec::Dist(DistParams {
                temperature: self.param("temperature", 1.0),
                beta: self.param("beta", 1.0),
                gamma: self.param("gamma", 1.0),
            })),
            "dkd" => Some(LossSpec::Dkd(DkdParams {
                temperature: self.param("temperature", 4.0),
                alpha: self.param("alpha", 1.0),
                beta: self.param("beta", 8.0),
            })),
            "fitnet" => Some(LossSpec::Fitnet),
            "at" => Some(LossSpec::At(AtParams {
                p: self.param("p", 2.0),
            })),
            "rkd" => Some(LossSpec::Rkd(RkdParams {
                distance_weight: self.param("distance_weight", 25.0),
                angle_weight: self.param("angle_weight", 50.0),
            })),
            "ickd" => Some(LossSpec::Ickd(IckdParams {
                denominator: self.params["denominator"]
                    .as_str()
                    .unwrap_or("cb")
                    .parse()
                    .unwrap(),
            })),
            "hcl" => Some(LossSpec::Hcl),
            _ => None,
        }
    }
}

pub fn golden_cases(loss: &str) -> Vec<Golden> {
    let cases: Vec<Golden> = manifest_cases(&fixtures())
        .into_iter()
        .filter(|(g, _)| g.loss == loss)
        .map(|(g, _)| g)
        .collect();
    assert!(!cases.is_empty(), "no golden cases for {loss}");
    cases
}

/// Every case of `dir/manifest.json`, with its manifest entry (for fields beyond `Golden`'s).
pub fn manifest_cases(dir: &std::path::Path) -> Vec<(Golden, serde_json::Value)> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let golden = Golden {
                name: c["name"].as_str().unwrap().to_string(),
                loss: c["loss"].as_str().unwrap().to_string(),
                params: c["params"].clone(),
                shape: c["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap() as usize)
                    .collect(),
                expected_loss: c["expected_loss"].as_f64().unwrap(),
                dir: dir.join(c["name"].as_str().unwrap()),
            };
            (golden, c.clone())
        })
        .collect()
}

/// SPEC's float32 tolerances: loss within `1e-4` relative, each gradient element within
/// `1e-3` of the largest reference gradient magnitude.
pub fn assert_close(what: &str, loss: f64, grad: &[f32], want_loss: f64, want_grad: &[f64]) {
    let rel = (loss - want_loss).abs() / want_loss.abs().max(1e-12);
    assert!(
        rel <= 1e-4,
        "{what}: loss {loss} vs {want_loss} (relative error {rel:.3e})"
    );
    assert_grad_close(what, grad, want_grad, 1e-3);
}

/// `assert_close` with an absolute floor: for random cases whose exact loss is tiny or zero
/// (a KL of nearly equal distributions, RKD of two points), where float32 rounding of terms of
/// size ~1 is all that is left, `floor` bounds the loss error and the gradient scale from below.
pub fn assert_close_floor(
    what: &str,
    loss: f64,
    grad: &[f32],
    want_loss: f64,
    want_grad: &[f64],
    floor: f64,
) {
    let err = (loss - want_loss).abs();
    assert!(
        err <= 1e-4 * want_loss.abs() + floor,
        "{what}: loss {loss} vs {want_loss} (error {err:.3e})"
    );
    let scale = want_grad.iter().fold(floor, |m, g| m.max(g.abs()));
    for (i, (g, w)) in grad.iter().zip(want_grad).enumerate() {
        let e = (f64::from(*g) - w).abs();
        assert!(
            e <= 1e-3 * scale,
            "{what}: grad[{i}] = {g} vs {w} (error {e:.3e}, scale {scale:.3e})"
        );
    }
}

pub fn assert_grad_close(what: &str, grad: &[f32], want: &[f64], tol: f64) {
    assert_eq!(grad.len(), want.len(), "{what}: gradient length");
    let scale = want.iter().fold(0.0f64, |m, g| m.max(g.abs())).max(1e-30);
    for (i, (g, w)) in grad.iter().zip(want).enumerate() {
        let err = (f64::from(*g) - w).abs();
        assert!(
            err <= tol * scale,
            "{what}: grad[{i}] = {g} vs {w} (error {err:.3e} > {tol} x max |grad| {scale:.3e})"
        );
    }
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

/// One evaluation of every loss (DIST twice), on odd shapes.
pub fn jobs() -> Vec<Job> {
    let specs: [(LossSpec, Vec<usize>); 9] = [
        (LossSpec::Kl(KlParams { temperature: 2.0 }), vec![33, 100]),
        (LossSpec::Dist(DistParams::default()), vec![64, 257]),
        (LossSpec::Dkd(DkdParams::default()), vec![16, 10]),
        (LossSpec::Fitnet, vec![4, 8, 5, 5]),
        (LossSpec::At(AtParams::default()), vec![3, 4, 6, 6]),
        (LossSpec::Rkd(RkdParams::default()), vec![12, 9]),
        (LossSpec::Hcl, vec![2, 3, 7, 7]),
        (LossSpec::Ickd(IckdParams::default()), vec![3, 5, 4, 3]),
        (
            LossSpec::Dist(DistParams {
                temperature: 4.0,
                beta: 2.0,
                gamma: 1.0,
            }),
            vec![7, 1000],
        ),
    ];
    specs
        .into_iter()
        .enumerate()
        .map(|(i, (spec, dims))| {
            let n: usize = dims.iter().product();
            let labels = spec
                .needs_labels()
                .then(|| (0..dims[0] as i64).map(|r| r % dims[1] as i64).collect());
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
