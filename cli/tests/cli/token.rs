//! Every golden case of `tests/fixtures/golden_llm/` (the token losses, sparse teachers, the
//! hard terms) through `wgpu-distill eval`.

use crate::common::*;

/// Every golden_llm case through the command line, on Vulkan, GL and the CPU reference
/// (sparse teachers and the dist and dkd hard terms included).
#[test]
fn cli_reproduces_the_token_golden_cases() {
    let out_dir = std::env::temp_dir().join(format!("wgpu-distill-llm-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut runs = 0;
    for (case, _) in manifest_cases(&llm_fixtures()) {
        for backend in ["vulkan", "gl", "cpu"] {
            let (loss, grad) = run_cli_case(&case, backend, &out_dir);
            runs += 1;
            if case.expected_loss == 0.0 {
                assert_eq!(loss, 0.0, "cli {} {backend}", case.name);
                assert!(grad.iter().all(|&g| g == 0.0));
                continue;
            }
            assert_close(
                &format!("cli {} {backend}", case.name),
                loss,
                &grad,
                case.expected_loss,
                &case.grad(),
            );
        }
    }
    assert_eq!(
        runs,
        17 * 3,
        "12 dense, 3 sparse, 1 dist and 1 dkd case on 3 backends"
    );
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// `--student-over-ids` (TRL's convention for a sparse teacher) on a golden sparse case,
/// against the library's float64 twin with the same option, on Vulkan, GL and the CPU.
#[test]
fn cli_renormalises_the_student_over_the_ids() {
    let out_dir =
        std::env::temp_dir().join(format!("wgpu-distill-over-ids-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let (mut case, _) = manifest_cases(&llm_fixtures())
        .into_iter()
        .find(|(c, _)| c.name == "kl_sparse_t2")
        .unwrap();
    case.params["student_over_ids"] = true.into();
    let spec = case.try_spec().unwrap();
    let student = case.student();
    let (ids_shape, ids) = crate::npy::read_labels(&case.dir.join("teacher_ids.npy")).unwrap();
    let logprobs = crate::npy::read_floats_typed(&case.dir.join("teacher_logprobs.npy"))
        .unwrap()
        .1;
    let labels = case.labels();
    let teacher = wgpu_distill::SparseTeacher::new(&ids, &logprobs, ids_shape[1]);
    let mut inputs = wgpu_distill::Inputs::with_sparse_teacher(&student, teacher, &case.shape);
    if let Some(labels) = &labels {
        inputs = inputs.with_labels(labels);
    }
    let want = wgpu_distill::reference::evaluate(&spec, &inputs).unwrap();
    for backend in ["vulkan", "gl", "cpu"] {
        let (loss, grad) = run_cli_case(&case, backend, &out_dir);
        assert_close(
            &format!("cli --student-over-ids {backend}"),
            loss,
            &grad,
            want.loss,
            &want.grad,
        );
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}
