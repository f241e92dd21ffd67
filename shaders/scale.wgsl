// Scales a gradient in place by one factor read on the device: the chain rule's last step in
// an autodiff framework's backward (∂L/∂student = upstream · the kernels' gradient), where the
// upstream gradient is a device tensor that the host cannot read without waiting for the GPU.
// A factor of exactly 1 (a loss differentiated directly, `loss.backward()`) leaves the values
// as they are, bitwise, and every invocation returns before touching them: the pass then costs
// a dispatch, not a read and a write of the gradient.
//
// Uniformity: no barriers in this file (the early return is allowed).

struct ScaleParams {
    // Values.
    count: u32,
    groups_x: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: ScaleParams;
// factor[0]: the scale, copied here from the caller's buffer (see GpuContext::record_scale).
@group(0) @binding(1) var<storage, read> factor: array<f32>;
@group(0) @binding(2) var<storage, read_write> values: array<f32>;

@compute @workgroup_size(WG)
fn scale_in_place(@builtin(global_invocation_id) gid: vec3<u32>) {
    let s = factor[0];
    let i = flat_index(gid, params.groups_x);
    if s == 1.0 || i >= params.count {
        return;
    }
    values[i] = values[i] * s;
}
