//! Every golden case of `tests/fixtures/golden/` through `wgpu-distill eval`.

use crate::common::*;

/// `wgpu-distill eval LOSS ... --grad-out G.npy --json` with --backend vulkan, gl and cpu.
#[test]
fn cli_reproduces_every_golden_case() {
    let out_dir = std::env::temp_dir().join(format!("wgpu-distill-golden-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    // The seed losses (the token losses' cases are in golden_llm: token.rs).
    for loss in ["kl", "dist", "dkd", "fitnet", "at", "rkd", "ickd", "hcl"] {
        for case in golden_cases(loss) {
            for backend in ["vulkan", "gl", "cpu"] {
                let (loss, grad) = run_cli_case(&case, backend, &out_dir);
                assert_close(
                    &format!("cli {} {backend}", case.name),
                    loss,
                    &grad,
                    case.expected_loss,
                    &case.grad(),
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// The golden_family cases the library implements (`tests/suite/family.rs` lists the others),
/// through `wgpu-distill eval` on every backend.
#[test]
fn cli_reproduces_the_family_cases() {
    let out_dir = std::env::temp_dir().join(format!("wgpu-distill-family-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut run = 0;
    for (case, _) in manifest_cases(&family_fixtures()) {
        if case.try_spec().is_err() {
            continue;
        }
        for backend in ["vulkan", "gl", "cpu"] {
            let (loss, grad, json) = run_cli_case_json(&case, backend, &out_dir);
            let what = format!("cli {} {backend}", case.name);
            assert_close(&what, loss, &grad, case.expected_loss, &case.grad());
            let got = json["grad_temperature"].as_f64();
            match case.expected_grad_temperature {
                Some(want) => {
                    let got = got.unwrap_or_else(|| panic!("{what}: no grad_temperature"));
                    assert!(
                        (got - want).abs() < 1e-4 * want.abs(),
                        "{what}: {got} vs {want}"
                    );
                }
                None => assert_eq!(got, None, "{what}"),
            }
        }
        run += 1;
    }
    assert_eq!(
        run, 19,
        "kl_ls_*, kl_ctkd_t4, kl_softcap, dkd_ls, ttm_g02, wttm_g01, wttm_ls, nkd_*, mlkd_*, \
         sp_widths, pkt_widths, skl_small, srkl_masked, jsd_softcap, tvd_softcap_t2"
    );
    let _ = std::fs::remove_dir_all(&out_dir);
}
