//! The golden cases of `tests/fixtures/` (their manifests and `.npy` files) and SPEC's float32
//! tolerances. Shared: the library's suite (`tests/suite/`) and the command line's tests
//! (`cli/tests/cli/`) both include this file; each crate root defines `FIXTURES` (the path of
//! `tests/fixtures/`) and a module `npy` (the command line's `cli/src/npy.rs`).
#![allow(dead_code)]

use std::path::PathBuf;

use wgpu_distill::{LossSpec, ParamValues};

use crate::npy;

/// The seed losses' golden cases (`tests/fixtures/golden/`).
pub fn fixtures() -> PathBuf {
    PathBuf::from(crate::FIXTURES).join("golden")
}

/// The 2023–2024 methods' and relational losses' golden cases (`tests/fixtures/golden_family/`).
pub fn family_fixtures() -> PathBuf {
    PathBuf::from(crate::FIXTURES).join("golden_family")
}

/// The token losses' golden cases (`tests/fixtures/golden_llm/`).
pub fn llm_fixtures() -> PathBuf {
    PathBuf::from(crate::FIXTURES).join("golden_llm")
}

/// One golden case of `tests/fixtures/golden/manifest.json`.
pub struct Golden {
    pub name: String,
    pub loss: String,
    pub params: serde_json::Value,
    pub shape: Vec<usize>,
    /// The teacher's shape where it differs from the student's (SP, PKT).
    pub teacher_shape: Option<Vec<usize>>,
    pub expected_loss: f64,
    /// ∂L/∂T (CTKD cases), from autograd on T.
    pub expected_grad_temperature: Option<f64>,
    pub dir: PathBuf,
}

impl Golden {
    pub fn student(&self) -> Vec<f32> {
        npy::read_floats_typed(&self.dir.join("student.npy"))
            .unwrap()
            .1
    }
    pub fn teacher(&self) -> Vec<f32> {
        npy::read_floats_typed(&self.dir.join("teacher.npy"))
            .unwrap()
            .1
    }
    pub fn grad(&self) -> Vec<f64> {
        npy::read_f64(&self.dir.join("grad_student.npy")).unwrap().1
    }
    /// Labels (DKD cases), if the case has them.
    pub fn labels(&self) -> Option<Vec<i64>> {
        let path = self.dir.join("labels.npy");
        path.exists().then(|| npy::read_labels(&path).unwrap().1)
    }
    /// Whether the case has a sparse top-k teacher (ids and log-probs instead of logits).
    pub fn sparse(&self) -> bool {
        self.dir.join("teacher_ids.npy").exists()
    }
    /// The loss spec of this case: its registration (`wgpu_distill::losses::REGISTRY`) built
    /// from the case's parameters (`tail` is an input, not a parameter). A loss or parameter
    /// the library does not implement is an error naming it.
    pub fn try_spec(&self) -> Result<LossSpec, String> {
        let registration = wgpu_distill::losses::registration(&self.loss)
            .map_err(|e| format!("{}: {e}", self.name))?;
        let mut values = ParamValues::new();
        for (key, value) in self.params.as_object().into_iter().flatten() {
            match value {
                _ if key == "tail" => {}
                serde_json::Value::Number(n) => values.set(key, n.as_f64().unwrap()),
                serde_json::Value::String(text) => values.set(key, text.as_str()),
                serde_json::Value::Bool(flag) => values.set(key, *flag),
                // A list (MLKD's temperatures).
                serde_json::Value::Array(items) => {
                    let list: Option<Vec<f64>> = items.iter().map(|x| x.as_f64()).collect();
                    let list = list.ok_or_else(|| format!("{}: parameter {key}", self.name))?;
                    values.set(key, list.as_slice())
                }
                other => return Err(format!("{}: parameter {key} = {other}", self.name)),
            }
        }
        registration
            .build(&values)
            .map_err(|e| format!("{}: {e}", self.name))
    }

    /// [`Golden::try_spec`] for the losses and parameters the library implements.
    pub fn spec(&self) -> Option<LossSpec> {
        self.try_spec().ok()
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
                teacher_shape: c["teacher_shape"]
                    .as_array()
                    .map(|dims| dims.iter().map(|d| d.as_u64().unwrap() as usize).collect()),
                expected_loss: c["expected_loss"].as_f64().unwrap(),
                expected_grad_temperature: c["expected_grad_temperature"].as_f64(),
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
