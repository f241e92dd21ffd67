// The sparse teacher's id bitmap: for each row, one bit per class, set where the class is
// one of the row's K teacher ids. token_sparse.wgsl reads it to sum the student's softmax over
// the classes outside the ids directly (the tail's log-mass), one bit test per class instead of
// a scan of the K ids. Only recorded with the tail.
//
// One workgroup per row: its lanes clear the row's words, then set the ids' bits with atomicOr
// (integer, so the result is the same in any order: deterministic).
//
// Uniformity: `row` depends only on the workgroup id and uniform parameters, so the branch
// around the storage barrier is workgroup-uniform.

struct BitsParams {
    rows: u32,
    k: u32,
    words: u32,
    groups_x: u32,
}

@group(0) @binding(0) var<uniform> params: BitsParams;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> id_bits: array<atomic<u32>>;

@compute @workgroup_size(WG)
fn token_sparse_bits(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = wid.x + wid.y * params.groups_x;
    if row < params.rows {
        let words = row * params.words;
        for (var w = lid; w < params.words; w += WG) {
            atomicStore(&id_bits[words + w], 0u);
        }
        storageBarrier();
        for (var j = lid; j < params.k; j += WG) {
            let id = ids[row * params.k + j];
            // An id past the row (only the embedding path can pass one) touches no other row.
            if id / 32u < params.words {
                atomicOr(&id_bits[words + id / 32u], 1u << (id % 32u));
            }
        }
    }
}
