//! Shared test helpers: one cached context per backend, golden cases, comparisons.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use wgpu_distill::losses::{AtParams, DkdParams, IckdParams, RkdParams};
use wgpu_distill::{
    npy, synthetic, BackendChoice, DistParams, GpuContext, Inputs, JsdParams, KlParams, LossOutput,
    LossSpec, TokenOptions, TvdParams,
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

/// The token losses' golden cases (`../shared/golden_llm/`).
pub fn llm_fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden_llm")
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
    /// The token options of this case (golden_llm: normaliser, weights; default elsewhere).
    pub fn token_options(&self) -> TokenOptions {
        let d = TokenOptions::default();
        TokenOptions {
            ignore_index: self
                .params
                .get("ignore_index")
                .and_then(|v| v.as_i64())
                .unwrap_or(d.ignore_index),
            normalizer: self.params.get("normalizer").and_then(|v| v.as_f64()),
            hard_weight: self.param("hard_weight", d.hard_weight),
            soft_weight: self.param("soft_weight", d.soft_weight),
        }
    }
    /// Whether the case has a sparse top-k teacher (ids and log-probs instead of logits).
    pub fn sparse(&self) -> bool {
        self.dir.join("teacher_ids.npy").exists()
    }
    /// The loss spec of this case, for the losses the library implements.
    pub fn spec(&self) -> Option<LossSpec> {
        match self.loss.as_str() {
            "kl" => Some(LossSpec::Kl(KlParams {
                temperature: self.param("temperature", 1.0),
                options: self.token_options(),
            })),
            "jsd" => Some(LossSpec::Jsd(JsdParams {
                temperature: self.param("temperature", 1.0),
                beta: self.param("beta", 0.5),
                options: self.token_options(),
            })),
            "tvd" => Some(LossSpec::Tvd(TvdParams {
                temperature: self.param("temperature", 1.0),
                options: self.token_options(),
            })),
            "dist" => Some(LossSpec::Dist(DistParams {
                temperature: self.param("temperature", 1.0),
                beta: self.param("beta", 1.0),
                gamma: self.param("gamma", 1.0),
                hard_weight: self.param("hard_weight", 0.0),
                soft_weight: self.param("soft_weight", 1.0),
            })),
            "dkd" => Some(LossSpec::Dkd(DkdParams {
                temperature: self.param("temperature", 4.0),
                alpha: self.param("alpha", 1.0),
                beta: self.param("beta", 8.0),
                hard_weight: self.param("hard_weight", 0.0),
                soft_weight: self.param("soft_weight", 1.0),
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

/// Token options used by the test jobs: a hard term at T != 1 (its own log-sum-exp).
pub fn hard_options() -> TokenOptions {
    TokenOptions {
        hard_weight: 0.3,
        soft_weight: 0.7,
        ..TokenOptions::default()
    }
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

/// One evaluation of every loss (DIST twice, the token losses with masking and a hard term),
/// on odd shapes.
pub fn jobs() -> Vec<Job> {
    let specs: [(LossSpec, Vec<usize>); 12] = [
        (LossSpec::Kl(KlParams::new(2.0)), vec![33, 100]),
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
                ..Default::default()
            }),
            vec![7, 1000],
        ),
        (
            LossSpec::Kl(KlParams {
                temperature: 2.0,
                options: hard_options(),
            }),
            vec![21, 130],
        ),
        (
            LossSpec::Jsd(JsdParams {
                temperature: 1.5,
                beta: 0.3,
                options: hard_options(),
            }),
            vec![19, 257],
        ),
        (
            LossSpec::Tvd(TvdParams {
                temperature: 1.0,
                ..TvdParams::default()
            }),
            vec![23, 96],
        ),
    ];
    specs
        .into_iter()
        .enumerate()
        .map(|(i, (spec, dims))| {
            let n: usize = dims.iter().product();
            // The last three jobs (the token losses) mask rows; DKD needs its targets.
            let labels = if i >= 9 {
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

/// Runs `wgpu-distill eval LOSS --json --grad-out G.npy` on a golden case (its labels, its
/// dense or sparse teacher, its params as flags) with `backend`; returns the loss and gradient
/// it printed and wrote, after checking the JSON names the backend and an adapter.
pub fn run_cli_case(case: &Golden, backend: &str, out_dir: &std::path::Path) -> (f64, Vec<f32>) {
    let grad_path = out_dir.join(format!("{}-{backend}.npy", case.name));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wgpu-distill"));
    cmd.args(["eval", &case.loss, "--backend", backend, "--json"])
        .arg("--student")
        .arg(case.dir.join("student.npy"))
        .arg("--grad-out")
        .arg(&grad_path);
    if case.sparse() {
        cmd.arg("--teacher-ids")
            .arg(case.dir.join("teacher_ids.npy"))
            .arg("--teacher-logprobs")
            .arg(case.dir.join("teacher_logprobs.npy"));
    } else {
        cmd.arg("--teacher").arg(case.dir.join("teacher.npy"));
    }
    if case.dir.join("labels.npy").exists() {
        cmd.arg("--labels").arg(case.dir.join("labels.npy"));
    }
    for (key, value) in case.params.as_object().unwrap() {
        cmd.arg(format!("--{}", key.replace('_', "-")));
        cmd.arg(match value {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        });
    }
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "{} {backend}: {}",
        case.name,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    let json: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(json["backend"], backend, "{}", case.name);
    assert!(json["adapter"].is_string());
    let grad = npy::read_floats(&grad_path).unwrap();
    assert_eq!(grad.0, case.shape);
    (json["loss"].as_f64().unwrap(), grad.1)
}
