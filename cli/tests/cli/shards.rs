//! `wgpu-distill eval dist --shards N`: the sharded DIST prints the whole batch's loss.

use wgpu_distill::synthetic;

#[test]
fn cli_shards_print_the_whole_batch_loss() {
    let dir = std::env::temp_dir().join(format!("wgpu-distill-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (b, c) = (50, 77);
    let (student, teacher) = synthetic::logit_pair(8, b, c, 2.0);
    let (s_path, t_path) = (dir.join("s.npy"), dir.join("t.npy"));
    crate::npy::write_f32(&s_path, &[b, c], &student).unwrap();
    crate::npy::write_f32(&t_path, &[b, c], &teacher).unwrap();
    let run = |extra: &[&str]| -> f64 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wgpu-distill"))
            .args(["eval", "dist", "--json", "--backend", "vulkan", "--student"])
            .arg(&s_path)
            .arg("--teacher")
            .arg(&t_path)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let json: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        json["loss"].as_f64().unwrap()
    };
    let whole = run(&[]);
    for shards in ["1", "3", "7"] {
        let split = run(&["--shards", shards]);
        assert!(
            ((split - whole) / whole).abs() < 1e-5,
            "--shards {shards}: {split} vs {whole}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
