// The Gram of features wider than one chunk: batch_gram.wgsl wrote chunk k's partial Grams
// at k B²; each invocation folds one entry's partials into the first B² entries, in chunk
// order (the same bits every run).
//
// Uniformity: no barriers in this file.

@group(0) @binding(0) var<uniform> params: GramParams;
@group(0) @binding(1) var<storage, read_write> gram_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> gram_t: array<f32>;

@compute @workgroup_size(WG)
fn batch_gram_sum(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ij = flat_index(gid, params.groups_x);
    let pairs = params.batch * params.batch;
    if ij >= pairs {
        return;
    }
    var s = gram_s[ij];
    var t = gram_t[ij];
    for (var chunk = 1u; chunk < params.chunks; chunk++) {
        s += gram_s[chunk * pairs + ij];
        t += gram_t[chunk * pairs + ij];
    }
    gram_s[ij] = s;
    gram_t[ij] = t;
}
