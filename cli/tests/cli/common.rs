//! Shared helpers: the golden cases and tolerances of the library's suite
//! (`tests/suite/common/fixtures.rs`, included) and a golden case through the command line.

#[path = "../../../tests/suite/common/fixtures.rs"]
mod fixtures;

pub use fixtures::*;

/// Runs `wgpu-distill eval LOSS --json --grad-out G.npy` on a golden case (its labels, its
/// dense or sparse teacher, its params as flags) with `backend`; returns the loss and gradient
/// it printed and wrote, after checking the JSON names the backend and an adapter.
pub fn run_cli_case(case: &Golden, backend: &str, out_dir: &std::path::Path) -> (f64, Vec<f32>) {
    let (loss, grad, _) = run_cli_case_json(case, backend, out_dir);
    (loss, grad)
}

/// [`run_cli_case`], with the whole `--json` line.
pub fn run_cli_case_json(
    case: &Golden,
    backend: &str,
    out_dir: &std::path::Path,
) -> (f64, Vec<f32>, serde_json::Value) {
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
        // The switches: `--standardize`, `--temperature-grad`, `--student-over-ids`, given or
        // not.
        if ["standardize", "temperature_grad", "student_over_ids"].contains(&key.as_str()) {
            if value == &serde_json::Value::Bool(true) {
                cmd.arg(format!("--{}", key.replace('_', "-")));
            }
            continue;
        }
        cmd.arg(format!("--{}", key.replace('_', "-")));
        cmd.arg(match value {
            serde_json::Value::String(s) => s.clone(),
            // A list (MLKD's temperatures) as the command line takes it: `2,3,4`.
            serde_json::Value::Array(items) => {
                let items: Vec<String> = items.iter().map(|x| x.to_string()).collect();
                items.join(",")
            }
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
    let (grad_shape, grad, _) = crate::npy::read_floats_typed(&grad_path).unwrap();
    assert_eq!(grad_shape, case.shape);
    (json["loss"].as_f64().unwrap(), grad, json)
}
