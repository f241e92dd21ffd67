// FitNet hint: L = mean (fs - ft)^2, grad = 2 (fs - ft) / N.
// Each workgroup owns one block of BLOCK consecutive elements (fixed by N alone), writes the
// gradient of its block and one partial sum; finish.wgsl folds the partials (times 1/N).
//
// Uniformity: the only barriers are in `seg_sum`, reached by every lane.

const BLOCK: u32 = 4096u;

struct FitnetParams {
    elements: u32,
    groups_x: u32,
    write_grad: u32,
    _pad0: u32,
    // 2 / N
    grad_scale: f32,
    _pad1: f32,
    _pad2: f32,
    _pad3: f32,
}

@group(0) @binding(0) var<uniform> params: FitnetParams;
@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG)
fn fitnet_blocks(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let block = wid.x + wid.y * params.groups_x;
    let start = block * BLOCK;
    let end = min(start + BLOCK, params.elements);
    var acc = 0.0;
    for (var i = start + lid; i < end; i += WG) {
        let d = student[i] - teacher[i];
        acc += d * d;
        if params.write_grad != 0u {
            grad[i] = params.grad_scale * d;
        }
    }
    let total = seg_sum(lid, vec4<f32>(acc, 0.0, 0.0, 0.0)).x;
    if lid == 0u && start < params.elements {
        partials[block] = total;
    }
}
