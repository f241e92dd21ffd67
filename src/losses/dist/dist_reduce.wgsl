// DIST shard statistics: folds the per-tile column moments of a shard (dist_columns.wgsl) in
// tile order with Chan's formula and writes one ColumnMoments per column, for the caller to
// merge across shards and devices (src/losses/dist.rs, `DistShardStats`).
//
// Uniformity: no barriers in this file; lanes past C return at once.

@group(0) @binding(0) var<uniform> params: DistParams;
@group(0) @binding(1) var<storage, read> moments: array<ColumnMoments>;
@group(0) @binding(2) var<storage, read_write> merged: array<ColumnMoments>;

@compute @workgroup_size(WG)
fn dist_column_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    let cols = params.cols;
    if col >= cols {
        return;
    }
    let tiles = params.tiles;
    var m = moments[col];
    for (var tile = 1u; tile < tiles; tile++) {
        m = chan_merge(m, moments[tile * cols + col]);
    }
    merged[col] = m;
}
