// HCL (ReviewKD hierarchical context loss), one level N×C×H×W, one segment of TPR lanes per
// (n, c) plane (several planes per workgroup when planes are small).
//   d = fs - ft; L = [ mse(d) + sum_l w_l mse(pool_l(d)) ] / total, l in {4, 2, 1}, l < H
//   (pooling is linear, so pool_l(fs) - pool_l(ft) = pool_l(d)); pool_l is adaptive average
//   pooling: cell i covers rows [floor(i H / l), ceil((i+1) H / l)), columns likewise with W.
//   Windows overlap when H is not a multiple of l; the backward pass spreads each cell's
//   gradient uniformly over its window and adds the overlaps.
// partials[plane] = sum d^2 * mse_scale + sum_cells level_scale_l * mean^2 (finish applies
// 1/total); grad = (2 d mse_scale + sum_{cells containing the element} 2 level_scale_l mean /
// size) / total.
//
// Uniformity: the level and cell loops depend only on uniform parameters; every lane runs them
// and reaches the barriers in `seg_sum` and the one before the gradient sweep. Each segment
// reads only the cell means its own lane 0 wrote.

struct HclParams {
    planes: u32,
    h: u32,
    w: u32,
    groups_x: u32,
    // 1 / (N C H W)
    mse_scale: f32,
    // 1 / total weight
    inv_total: f32,
    write_grad: u32,
    _pad0: u32,
    // w_l / (N C l^2) for l = 4, 2, 1 (0 where the level is skipped)
    level_scale: vec4<f32>,
}

@group(0) @binding(0) var<uniform> params: HclParams;
@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

// Cell means of each segment's plane: 16 cells of level 4, then 4 of level 2, then 1 of level 1.
const CELLS: u32 = 21u;
var<workgroup> cell_mean: array<f32, 672>; // CELLS * (WG / 8): TPR >= 8 (checked on the host)

fn level_size(level: u32) -> u32 {
    return 4u >> level;
}

fn level_offset(level: u32) -> u32 {
    return select(select(20u, 16u, level == 1u), 0u, level == 0u);
}

// [start, end) of cell i of l cells over n.
fn window(i: u32, n: u32, l: u32) -> vec2<u32> {
    return vec2<u32>(i * n / l, ((i + 1u) * n + l - 1u) / l);
}

@compute @workgroup_size(WG)
fn hcl_planes(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let plane = segment_row(wid, params.groups_x, lid);
    let in_range = plane < params.planes;
    let lane = lid % TPR;
    let cells = (lid / TPR) * CELLS;
    let h = params.h;
    let w = params.w;
    let base = plane * h * w;

    var sq = 0.0;
    if in_range {
        for (var k = lane; k < h * w; k += TPR) {
            let d = student[base + k] - teacher[base + k];
            sq += d * d;
        }
    }
    var loss = seg_sum(lid, vec4<f32>(sq, 0.0, 0.0, 0.0)).x * params.mse_scale;

    for (var level = 0u; level < 3u; level++) {
        let l = level_size(level);
        if l >= h {
            continue;
        }
        for (var cell = 0u; cell < l * l; cell++) {
            let rows = window(cell / l, h, l);
            let cols = window(cell % l, w, l);
            let width = cols.y - cols.x;
            let size = (rows.y - rows.x) * width;
            var acc = 0.0;
            if in_range {
                for (var k = lane; k < size; k += TPR) {
                    let idx = base + (rows.x + k / width) * w + cols.x + k % width;
                    acc += student[idx] - teacher[idx];
                }
            }
            let mean = seg_sum(lid, vec4<f32>(acc, 0.0, 0.0, 0.0)).x / f32(size);
            if lane == 0u {
                cell_mean[cells + level_offset(level) + cell] = mean;
            }
            loss += params.level_scale[level] * mean * mean;
        }
    }
    workgroupBarrier();
    if in_range && lane == 0u {
        partials[plane] = loss;
    }

    if in_range && params.write_grad != 0u {
        for (var k = lane; k < h * w; k += TPR) {
            let r = k / w;
            let q = k % w;
            var g = 2.0 * (student[base + k] - teacher[base + k]) * params.mse_scale;
            for (var level = 0u; level < 3u; level++) {
                let l = level_size(level);
                if l >= h {
                    continue;
                }
                for (var i = 0u; i < l; i++) {
                    let rows = window(i, h, l);
                    if r < rows.x || r >= rows.y {
                        continue;
                    }
                    for (var j = 0u; j < l; j++) {
                        let cols = window(j, w, l);
                        if q < cols.x || q >= cols.y {
                            continue;
                        }
                        let size = f32((rows.y - rows.x) * (cols.y - cols.x));
                        g += 2.0 * params.level_scale[level] * cell_mean[cells + level_offset(level) + i * l + j] / size;
                    }
                }
            }
            grad[base + k] = g * params.inv_total;
        }
    }
}
