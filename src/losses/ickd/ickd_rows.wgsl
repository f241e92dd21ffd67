// ICKD row pass (see ickd.wgsl): per row (b, i) of the Gram matrices, the normalised rows, the
// loss term, and R = dL/dG_row written over gram_t.
//
// Uniformity: inactive rows skip loads and stores but reach both `seg_sum`s.

@group(0) @binding(0) var<uniform> params: IckdParams;
@group(0) @binding(1) var<storage, read> gram_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> gram_t: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

@compute @workgroup_size(WG)
fn ickd_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let c = params.channels;
    let in_range = row < params.samples * c;
    let lane = lid % TPR;
    let base = row * c;

    var sq = vec4<f32>(0.0);
    if in_range {
        for (var j = lane; j < c; j += TPR) {
            let s = gram_s[base + j];
            let t = gram_t[base + j];
            sq += vec4<f32>(s * s, t * t, 0.0, 0.0);
        }
    }
    let norms = sqrt(seg_sum(lid, sq).xy);
    let div = max(norms, vec2<f32>(1e-12));

    var sums = vec4<f32>(0.0);
    if in_range {
        for (var j = lane; j < c; j += TPR) {
            let gs = gram_s[base + j] / div.x;
            let diff = gs - gram_t[base + j] / div.y;
            sums += vec4<f32>(diff * diff, gs * params.grad_scale * diff, 0.0, 0.0);
        }
    }
    let folded = seg_sum(lid, sums);
    if in_range {
        for (var j = lane; j < c; j += TPR) {
            let gs = gram_s[base + j] / div.x;
            let e = params.grad_scale * (gs - gram_t[base + j] / div.y);
            var r = e / 1e-12;
            if norms.x > 1e-12 {
                r = (e - gs * folded.y) / norms.x;
            }
            gram_t[base + j] = r;
        }
        if lane == 0u {
            partials[row] = folded.x;
        }
    }
}
