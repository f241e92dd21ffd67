//! `wgpu-distill info`: the adapters, the chosen backend, its features and limits.

use wgpu_distill::{BackendChoice, Error, GpuContext};

use crate::parse_backend;

pub(crate) fn info(backend: &str, json: bool) -> Result<(), Error> {
    let choice = parse_backend(backend)?;
    let adapters = wgpu_distill::list_adapters(if choice == BackendChoice::Cpu {
        BackendChoice::Auto
    } else {
        choice
    });
    if !json {
        println!("adapters:");
        for a in &adapters {
            println!(
                "  {} ({}, {}, {})",
                a.name, a.backend, a.device_type, a.driver
            );
        }
        if adapters.is_empty() {
            println!("  none: {}", wgpu_distill::NO_ADAPTER_HELP);
        }
    }
    if choice == BackendChoice::Cpu {
        if json {
            println!(
                "{}",
                serde_json::json!({"backend": "cpu", "adapter": "float64 reference"})
            );
        } else {
            println!("chosen: cpu (float64 reference)");
        }
        return Ok(());
    }
    let ctx = GpuContext::new(choice)?;
    let features = ctx.device().features();
    let limits = ctx.device().limits();
    let summary = ctx.adapter_summary();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "backend": ctx.backend_name(),
                "adapter": summary.name,
                "device_type": summary.device_type,
                "driver": summary.driver,
                "features": format!("{features:?}"),
                "max_storage_buffer_binding_size": limits.max_storage_buffer_binding_size,
                "max_buffer_size": limits.max_buffer_size,
                "min_storage_buffer_offset_alignment": limits.min_storage_buffer_offset_alignment,
                "max_compute_workgroups_per_dimension": limits.max_compute_workgroups_per_dimension,
                "max_compute_invocations_per_workgroup": limits.max_compute_invocations_per_workgroup,
                "max_storage_buffers_per_shader_stage": limits.max_storage_buffers_per_shader_stage,
                "subgroup_reduction_lanes": ctx.subgroup_layout(),
            })
        );
    } else {
        println!(
            "chosen: {} ({}, {})",
            summary.name,
            ctx.backend_name(),
            summary.device_type
        );
        println!("features: {features:?}");
        match ctx.subgroup_layout() {
            Some(lanes) => println!(
                "subgroup reductions: shuffles over {lanes} lanes (wider rows fold to {lanes} first)"
            ),
            None => println!("subgroup reductions: none (workgroup barriers)"),
        }
        println!(
            "limits: max_storage_buffer_binding_size {} B, max_buffer_size {} B, \
             min_storage_buffer_offset_alignment {}, max workgroups/dim {}, \
             invocations/workgroup {}, storage buffers/stage {}",
            limits.max_storage_buffer_binding_size,
            limits.max_buffer_size,
            limits.min_storage_buffer_offset_alignment,
            limits.max_compute_workgroups_per_dimension,
            limits.max_compute_invocations_per_workgroup,
            limits.max_storage_buffers_per_shader_stage,
        );
    }
    Ok(())
}
