// The token losses' normaliser when the caller gives none: 1 / max(valid rows, 1), where a row
// is valid when its label is not ignore_index. One workgroup; integer counts folded by a fixed
// tree (exact, so any order would do). Runs before the row kernels, which read normaliser[0].
//
// Uniformity: one workgroup; the loop bounds are uniform parameters and the lane's own index;
// every lane reaches every barrier of the tree.

struct CountParams {
    rows: u32,
    ignore_index: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: CountParams;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> normaliser: array<f32>;

var<workgroup> counts: array<u32, WG>;

@compute @workgroup_size(WG)
fn token_count(@builtin(local_invocation_index) lid: u32) {
    var n = 0u;
    for (var i = lid; i < params.rows; i += WG) {
        n += select(0u, 1u, labels[i] != params.ignore_index);
    }
    counts[lid] = n;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if lid < stride {
            counts[lid] += counts[lid + stride];
        }
        workgroupBarrier();
    }
    if lid == 0u {
        normaliser[0] = 1.0 / f32(max(counts[0], 1u));
    }
}
