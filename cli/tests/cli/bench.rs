//! `wgpu-distill bench`: every field of its `--json` report is present and consistent, for each
//! combination, the token losses included. No timing is asserted: only that times were
//! measured.

fn bench_json(args: &[&str]) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wgpu-distill"))
        .arg("bench")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Progress goes to stderr, one line per measurement.
    assert!(stderr.contains("[1/"), "{stderr}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn cli_json_has_every_field_for_each_combination() {
    for backend in ["vulkan", "gl"] {
        let rows = bench_json(&[
            "--backend",
            backend,
            "--loss",
            "kl,dist,dkd",
            "--shape",
            "16x100,8x260",
            "--dtype",
            "f32,f16,bf16",
            "--pass",
            "forward,forward+grad",
            "--iters",
            "2",
            "--json",
            "--per-dispatch",
        ]);
        assert_eq!(rows.len(), 3 * 2 * 3 * 2, "{backend}");
        for row in &rows {
            for field in [
                "loss",
                "shape",
                "dtype",
                "pass",
                "gpu_ms",
                "wall_ms",
                "encode_us",
                "encode_warm_us",
                "bytes",
                "gbps",
                "roofline_fraction",
                "dispatches",
                "input_reads",
                "adapter",
                "backend",
            ] {
                assert!(
                    row.get(field).is_some(),
                    "{backend}: {field} missing in {row}"
                );
            }
            assert_eq!(row["backend"], backend);
            for positive in ["gpu_ms", "wall_ms", "roofline_fraction", "gbps"] {
                let v = row[positive].as_f64().unwrap();
                assert!(
                    v.is_finite() && v > 0.0,
                    "{backend}: {positive} = {v} in {row}"
                );
            }
            let shape: Vec<u64> = serde_json::from_value(row["shape"].clone()).unwrap();
            let elements = shape[0] * shape[1];
            let input_bytes = match row["dtype"].as_str().unwrap() {
                "f32" => 4,
                _ => 2,
            } * elements;
            let grad_bytes = if row["pass"] == "forward+grad" {
                4 * elements
            } else {
                0
            };
            assert_eq!(
                row["bytes"].as_u64().unwrap(),
                2 * input_bytes + grad_bytes,
                "{row}"
            );
            let expected_dispatches = match row["loss"].as_str().unwrap() {
                "dist" => 4,
                _ => 2,
            };
            assert_eq!(row["dispatches"], expected_dispatches, "{row}");
            // DIST's reads of each input on a CPU adapter's default path (streaming, one-read
            // rows), as `tests/suite/traffic.rs` counts them; null for the other losses.
            let reads = match (row["loss"].as_str().unwrap(), row["pass"].as_str().unwrap()) {
                ("dist", "forward+grad") => serde_json::json!(4),
                ("dist", _) => serde_json::json!(2),
                _ => serde_json::Value::Null,
            };
            assert_eq!(row["input_reads"], reads, "{row}");
            // Per-dispatch times exist exactly where the adapter has timestamps, one per
            // dispatch, named by kernel.
            let per_dispatch = row["dispatch_ms"].as_array().unwrap();
            if row["timestamps"] == true {
                assert_eq!(per_dispatch.len(), expected_dispatches, "{row}");
                for d in per_dispatch {
                    assert!(d["kernel"].as_str().is_some_and(|k| !k.is_empty()), "{row}");
                    assert!(d["ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{row}");
                }
            } else {
                assert!(per_dispatch.is_empty(), "{row}");
            }
        }
    }
}

#[test]
fn lavapipe_has_timestamps_and_names_the_dist_kernels() {
    let rows = bench_json(&[
        "--backend",
        "vulkan",
        "--loss",
        "dist",
        "--shape",
        "32x500,32x501",
        "--pass",
        "forward+grad",
        "--iters",
        "1",
        "--json",
        "--per-dispatch",
    ]);
    assert_eq!(rows.len(), 2);
    let kernels = |row: &serde_json::Value| -> Vec<String> {
        assert_eq!(row["timestamps"], true, "{row}");
        row["dispatch_ms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["kernel"].as_str().unwrap().to_string())
            .collect()
    };
    // C = 500: four classes per load (and, on a CPU adapter, the one-read row pass and eight
    // rows per gradient segment); C = 501: one.
    assert_eq!(
        kernels(&rows[0]),
        [
            "dist_rows_one_read_quads",
            "dist_column_partials_quads",
            "dist_column_merge",
            "dist_grad_quads_rows8"
        ]
    );
    assert_eq!(
        kernels(&rows[1]),
        [
            "dist_rows_one_read",
            "dist_column_partials",
            "dist_column_merge",
            "dist_grad"
        ]
    );
}

/// The token losses in the benchmark: each name, its dispatches (the valid-row count where
/// labels are read, the rows, the sum) and the bytes it must move (a sparse teacher: N·K·8 for its ids and log-probs in
/// place of the dense teacher).
#[test]
fn cli_bench_covers_the_token_losses() {
    let rows = bench_json(&[
        "--backend",
        "vulkan",
        "--loss",
        "kl+soft,kl+hard,kl+sparse,jsd,jsd+hard,tvd",
        "--shape",
        "16x100",
        "--pass",
        "forward+grad",
        "--iters",
        "2",
        "--sparse-k",
        "64",
        "--json",
        "--per-dispatch",
    ]);
    let names: Vec<&str> = rows.iter().map(|r| r["loss"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["kl+soft", "kl+hard", "kl sparse", "jsd", "jsd+hard", "tvd"]
    );
    let elements = 16 * 100u64;
    for row in &rows {
        let bytes = match row["loss"].as_str().unwrap() {
            "kl sparse" => 8 * elements + 16 * 64 * 8,
            _ => 12 * elements,
        };
        assert_eq!(row["bytes"].as_u64().unwrap(), bytes, "{row}");
        // kl+sparse runs as plain KL (no labels: no valid-row count).
        let dispatches = if row["loss"] == "kl sparse" { 2 } else { 3 };
        assert_eq!(row["dispatches"], dispatches, "{row}");
        assert_eq!(
            row["dispatch_ms"].as_array().unwrap().len(),
            dispatches,
            "{row}"
        );
        let fraction = row["roofline_fraction"].as_f64().unwrap();
        assert!(fraction.is_finite() && fraction > 0.0, "{row}");
    }
}
