// SP's gradient coefficients: one invocation per pair, C_ij = M_ij + M_ji with M = ∂L/∂Gs
// (G = F·Fᵀ, so ∂L/∂Fs = (M + Mᵀ)·Fs).
//
// Uniformity: no barriers in this file.

@group(0) @binding(0) var<uniform> params: GramParams;
@group(0) @binding(1) var<storage, read> slopes: array<f32>;
@group(0) @binding(2) var<storage, read_write> coefficients: array<f32>;

@compute @workgroup_size(WG)
fn sp_coefficients(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ij = flat_index(gid, params.groups_x);
    let b = params.batch;
    if ij >= b * b {
        return;
    }
    let i = ij / b;
    let j = ij % b;
    coefficients[ij] = slopes[ij] + slopes[j * b + i];
}
