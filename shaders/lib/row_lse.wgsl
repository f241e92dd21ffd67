// The first sweep of the logit-row kernels (KL and DIST's row pass): the softmax log-sum-exps
// of zs/T and zt/T over one row, online (one exp an element, `lse_push`), merged over the
// segment by `seg_lse2`. Prepended after the input library to the kernels that read logits.
// (DKD keeps its own sweep: it leaves out the target class.)
//
// Uniformity: both functions call `seg_lse2`, which contains barriers: call them from every
// lane of the workgroup, in workgroup-uniform control flow. Rows past the batch
// (`in_batch == false`) skip their loads and still reach the barriers.

// (LSE(zs/T), LSE(zt/T)) of the row whose first element is `base`, `cols` elements long.
fn row_lse2(lid: u32, in_batch: bool, base: u32, cols: u32, inv_t: f32) -> vec2<f32> {
    var stats = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    if in_batch {
        for (var c = lid % TPR; c < cols; c += TPR) {
            stats = vec4<f32>(
                lse_push(stats.xy, load_student(base + c) * inv_t),
                lse_push(stats.zw, load_teacher(base + c) * inv_t),
            );
        }
    }
    return seg_lse2(lid, stats);
}

// The same, four classes per load: the row's first quad is `base`, `quads` quads long.
fn row_lse2_quads(lid: u32, in_batch: bool, base: u32, quads: u32, inv_t: f32) -> vec2<f32> {
    var stats = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    if in_batch {
        for (var q = lid % TPR; q < quads; q += TPR) {
            stats = vec4<f32>(
                lse_push4(stats.xy, load_student4(base + q) * inv_t),
                lse_push4(stats.zw, load_teacher4(base + q) * inv_t),
            );
        }
    }
    return seg_lse2(lid, stats);
}
