//! The `--json` line of `wgpu-distill bench`: one benchmark result as one JSON object.

use wgpu_distill::bench::BenchResult;

/// `result` as one JSON object, with the adapter and backend it ran on. NaN figures (the
/// roofline's under `--no-roofline`) are `null`.
pub(crate) fn bench_result(
    result: &BenchResult,
    adapter: &str,
    backend: &str,
) -> serde_json::Value {
    serde_json::json!({
        "loss": result.loss,
        "shape": result.shape,
        "dtype": result.dtype,
        "pass": result.pass.name(),
        "gpu_ms": result.gpu_ms,
        "roofline_ms": result.roofline_ms,
        "wall_ms": result.wall_ms,
        "encode_us": result.encode_us,
        "encode_warm_us": result.encode_warm_us,
        "bytes": result.bytes,
        "gbps": result.gbps,
        "roofline_fraction": result.roofline_fraction,
        "dispatches": result.dispatches,
        "input_reads": result.input_reads,
        "timestamps": result.timestamps,
        "dispatch_ms": result
            .dispatch_ms
            .iter()
            .map(|(kernel, ms)| serde_json::json!({"kernel": kernel, "ms": ms}))
            .collect::<Vec<_>>(),
        "adapter": adapter,
        "backend": backend,
    })
}
