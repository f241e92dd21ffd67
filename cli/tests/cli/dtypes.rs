//! f16 and bf16 through the command line: `<f2` inputs read and converted, an f16 gradient
//! written.

use wgpu_distill::{synthetic, InputDtype};

#[test]
fn cli_reads_float16_npy_and_converts_to_bf16() {
    let dir = std::env::temp_dir().join(format!("wgpu-distill-dtypes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (b, c) = (6, 33);
    let (student, teacher) = synthetic::logit_pair(3, b, c, 2.0);
    let write_f16 = |name: &str, values: &[f32]| {
        let path = dir.join(name);
        let mut header =
            format!("{{'descr': '<f2', 'fortran_order': False, 'shape': ({b}, {c}), }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        for v in values {
            bytes.extend_from_slice(&half::f16::from_f32(*v).to_le_bytes());
        }
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let (s, t) = (write_f16("s.npy", &student), write_f16("t.npy", &teacher));
    let run = |extra: &[&str]| -> serde_json::Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wgpu-distill"))
            .args(["eval", "kl", "--json", "--backend", "vulkan", "--student"])
            .arg(&s)
            .arg("--teacher")
            .arg(&t)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .last()
                .unwrap(),
        )
        .unwrap()
    };
    let f16 = run(&[]);
    assert_eq!(f16["dtype"], "f16");
    let cpu = std::process::Command::new(env!("CARGO_BIN_EXE_wgpu-distill"))
        .args(["eval", "kl", "--json", "--backend", "cpu", "--student"])
        .arg(&s)
        .arg("--teacher")
        .arg(&t)
        .output()
        .unwrap();
    let cpu: serde_json::Value = serde_json::from_str(
        String::from_utf8(cpu.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    let (g, r) = (f16["loss"].as_f64().unwrap(), cpu["loss"].as_f64().unwrap());
    assert!(((g - r) / r).abs() < 1e-4, "f16 file: gpu {g} vs cpu {r}");
    let bf16 = run(&["--dtype", "bf16"]);
    assert_eq!(bf16["dtype"], "bf16");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_writes_a_float16_gradient() {
    let dir = std::env::temp_dir().join(format!("wgpu-distill-grad16-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (b, c) = (4, 64);
    let (student, teacher) = synthetic::logit_pair(8, b, c, 2.0);
    let (s, t) = (dir.join("s.npy"), dir.join("t.npy"));
    crate::npy::write_f32(&s, &[b, c], &student).unwrap();
    crate::npy::write_f32(&t, &[b, c], &teacher).unwrap();
    let eval = |grad_out: &std::path::Path, extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wgpu-distill"))
            .args(["eval", "dist", "--backend", "vulkan", "--student"])
            .arg(&s)
            .arg("--teacher")
            .arg(&t)
            .arg("--grad-out")
            .arg(grad_out)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (wide, narrow) = (dir.join("g32.npy"), dir.join("g16.npy"));
    eval(&wide, &[]);
    eval(&narrow, &["--grad-dtype", "f16"]);
    let (shape, g32, dtype32) = crate::npy::read_floats_typed(&wide).unwrap();
    let (shape16, g16, dtype16) = crate::npy::read_floats_typed(&narrow).unwrap();
    assert_eq!((dtype32, dtype16), (InputDtype::F32, InputDtype::F16));
    assert_eq!(shape, shape16);
    assert_eq!(g16, InputDtype::F16.round_trip(&g32));
    let _ = std::fs::remove_dir_all(&dir);
}
