//! Bad input on the command line ends in a one-line message and a non-zero exit, never a panic.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wgpu-distill"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CLI's own error line (the GL driver may print unrelated lines of its own).
fn error_line(stderr: &str) -> String {
    let lines: Vec<_> = stderr
        .lines()
        .filter(|l| l.starts_with("wgpu-distill"))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    lines[0].to_string()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

/// A .npy file with `descr` and `shape` in its header and `data` after it.
fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn cli_reports_bad_input_in_one_line() {
    let dir = std::env::temp_dir().join(format!("wgpu-distill-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.npy");
    crate::npy::write_f32(&good, &[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
    let other = dir.join("other.npy");
    crate::npy::write_f32(&other, &[3, 2], &[0.0; 6]).unwrap();
    let rank3 = dir.join("rank3.npy");
    crate::npy::write_f32(&rank3, &[1, 2, 3], &[0.0; 6]).unwrap();
    let rank4 = dir.join("rank4.npy");
    crate::npy::write_f32(&rank4, &[1, 2, 3, 1], &[0.0; 6]).unwrap();
    let mut label_bytes = vec![];
    for l in [0i64, 5] {
        label_bytes.extend_from_slice(&l.to_le_bytes());
    }
    let bad_labels = write(&dir, "labels.npy", &npy_bytes("<i8", "(2,)", &label_bytes));
    let empty = write(&dir, "empty.npy", &npy_bytes("<f4", "(0, 3)", &[]));
    let huge = write(
        &dir,
        "huge.npy",
        &npy_bytes("<f4", "(100000, 100000)", &[0; 64]),
    );
    let f64s = write(&dir, "f64.npy", &npy_bytes("<f8", "(2, 3)", &[0; 48]));
    let ints = write(&dir, "int.npy", &npy_bytes("<i4", "(2, 3)", &[0; 24]));
    let truncated = write(&dir, "trunc.npy", &npy_bytes("<f4", "(2, 3)", &[0; 10]));
    let garbage = write(&dir, "garbage.npy", b"this is not a numpy file at all");
    let p = |path: &PathBuf| path.to_str().unwrap().to_string();
    // A sparse teacher for good.npy (2×3): K = 2, row 1 repeating id 2.
    let mut id_bytes = vec![];
    for id in [0i64, 1, 2, 2] {
        id_bytes.extend_from_slice(&id.to_le_bytes());
    }
    let dup_ids = write(&dir, "dup_ids.npy", &npy_bytes("<i8", "(2, 2)", &id_bytes));
    let logprobs = dir.join("logprobs.npy");
    crate::npy::write_f32(&logprobs, &[2, 2], &[-1.0, -2.0, -1.0, -2.0]).unwrap();
    let token = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = vec!["eval".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let column = dir.join("column.npy");
    crate::npy::write_f32(&column, &[3, 1], &[0.0, 1.0, 2.0]).unwrap();
    let wide = dir.join("wide.npy");
    crate::npy::write_f32(&wide, &[1, 4097], &[0.0; 4097]).unwrap();
    let mlkd = |file: &PathBuf, temperatures: &str| {
        let list = format!("--temperatures={temperatures}");
        token(&["mlkd", "--student", &p(file), "--teacher", &p(file), &list])
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            mlkd(&good, ""),
            "mlkd needs at least one temperature (the list is empty)",
        ),
        (
            mlkd(&good, "2,x"),
            "parameter 'temperatures' must be numbers separated by commas, got '2,x'",
        ),
        (
            mlkd(&good, "2,-1"),
            "temperature must be finite and > 0, got -1",
        ),
        (
            mlkd(&wide, "2"),
            "mlkd's class correlation is a C×C Gram: C ≤ 4096, got C = 4097",
        ),
        (
            token(&["ttm", "--student", &p(&rank3), "--teacher", &p(&rank3)]),
            "ttm needs rank 2",
        ),
        (
            token(&[
                "ttm",
                "--student",
                &p(&column),
                "--teacher",
                &p(&column),
                "--standardize",
            ]),
            "standardize needs at least 2 classes per row",
        ),
        (
            token(&[
                "ttm",
                "--student",
                &p(&good),
                "--teacher",
                &p(&good),
                "--power",
                "0",
            ]),
            "ttm power (gamma) must be finite and > 0, got 0",
        ),
        (
            token(&["sp", "--student", &p(&good), "--teacher", &p(&other)]),
            "sp needs student and teacher of the same batch size",
        ),
        (
            token(&["pkt", "--student", &p(&good), "--teacher", &p(&rank3)]),
            "pkt needs student and teacher of the same batch size",
        ),
        (
            token(&[
                "jsd",
                "--student",
                &p(&good),
                "--teacher",
                &p(&good),
                "--beta",
                "2",
            ]),
            "beta must lie in [0, 1], got 2",
        ),
        (
            token(&[
                "tvd",
                "--student",
                &p(&good),
                "--teacher",
                &p(&good),
                "--hard-weight",
                "1",
            ]),
            "tvd needs --labels for its hard-label term",
        ),
        (
            token(&[
                "dist",
                "--student",
                &p(&good),
                "--teacher",
                &p(&good),
                "--normalizer",
                "3",
            ]),
            "--normalizer does not apply to loss dist",
        ),
        (
            token(&[
                "kl",
                "--student",
                &p(&good),
                "--teacher",
                &p(&good),
                "--normalizer",
                "-1",
            ]),
            "normalizer must be finite and > 0, got -1",
        ),
        (
            token(&[
                "kl",
                "--student",
                &p(&good),
                "--teacher",
                &p(&good),
                "--labels",
                &p(&bad_labels),
            ]),
            "label 5 at row 1",
        ),
        (
            token(&[
                "kl",
                "--student",
                &p(&good),
                "--teacher-ids",
                &p(&dup_ids),
                "--teacher-logprobs",
                &p(&logprobs),
            ]),
            "dup_ids.npy",
        ),
        (
            token(&[
                "kl",
                "--student",
                &p(&good),
                "--teacher-ids",
                &p(&dup_ids),
                "--teacher-logprobs",
                &p(&good),
            ]),
            "have shape [2, 3]",
        ),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&dir.join("missing.npy")),
                "--teacher".into(),
                p(&good),
            ],
            "missing.npy",
        ),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&huge),
                "--teacher".into(),
                p(&good),
            ],
            "huge.npy",
        ),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&f64s),
                "--teacher".into(),
                p(&good),
            ],
            "<f8",
        ),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&ints),
                "--teacher".into(),
                p(&good),
            ],
            "int.npy",
        ),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&truncated),
                "--teacher".into(),
                p(&good),
            ],
            "trunc.npy",
        ),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&garbage),
                "--teacher".into(),
                p(&good),
            ],
            "garbage.npy",
        ),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&good),
                "--teacher".into(),
                p(&other),
            ],
            "shape",
        ),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&rank3),
                "--teacher".into(),
                p(&rank3),
            ],
            "rank",
        ),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&good),
                "--teacher".into(),
                p(&good),
                "--temperature".into(),
                "0".into(),
            ],
            "temperature",
        ),
        (
            vec![
                "eval".into(),
                "nope".into(),
                "--student".into(),
                p(&good),
                "--teacher".into(),
                p(&good),
            ],
            "unknown loss",
        ),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&good),
                "--teacher".into(),
                p(&good),
                "--backend".into(),
                "quantum".into(),
            ],
            "unknown backend",
        ),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&good),
                "--teacher".into(),
                p(&good),
                "--gamma".into(),
                "2".into(),
            ],
            "--gamma",
        ),
        (vec!["eval".into(), "kl".into()], "--student"),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&empty),
                "--teacher".into(),
                p(&empty),
            ],
            "empty",
        ),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&good),
                "--teacher".into(),
                p(&good),
                "--shards".into(),
                "2".into(),
            ],
            "--shards applies to dist",
        ),
        (
            vec![
                "eval".into(),
                "dist".into(),
                "--student".into(),
                p(&good),
                "--teacher".into(),
                p(&good),
                "--shards".into(),
                "9".into(),
            ],
            "--shards must be between 1 and B = 2",
        ),
        (
            vec![
                "eval".into(),
                "ickd".into(),
                "--student".into(),
                p(&rank4),
                "--teacher".into(),
                p(&rank4),
                "--denominator".into(),
                "bc".into(),
            ],
            "denominator",
        ),
        (
            vec![
                "eval".into(),
                "dkd".into(),
                "--student".into(),
                p(&good),
                "--teacher".into(),
                p(&good),
            ],
            "--labels",
        ),
        (
            vec![
                "eval".into(),
                "dkd".into(),
                "--student".into(),
                p(&good),
                "--teacher".into(),
                p(&good),
                "--labels".into(),
                p(&bad_labels),
            ],
            "outside [0, 3)",
        ),
        (
            vec![
                "eval".into(),
                "dkd".into(),
                "--student".into(),
                p(&good),
                "--teacher".into(),
                p(&good),
                "--labels".into(),
                p(&good),
            ],
            "labels dtype",
        ),
        (
            vec![
                "eval".into(),
                "at".into(),
                "--student".into(),
                p(&good),
                "--teacher".into(),
                p(&good),
            ],
            "rank 4",
        ),
        (
            vec![
                "eval".into(),
                "hcl".into(),
                "--student".into(),
                p(&rank4),
                "--teacher".into(),
                p(&good),
            ],
            "shape",
        ),
        (
            vec![
                "eval".into(),
                "kl".into(),
                "--student".into(),
                p(&good),
                "--teacher".into(),
                p(&good),
                "--p".into(),
                "2".into(),
            ],
            "--p",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, _, stderr) = cli(&args);
        assert!(!ok, "{args:?} succeeded");
        let line = error_line(&stderr);
        assert!(
            line.contains(needle),
            "{args:?}: '{line}' does not name '{needle}'"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
