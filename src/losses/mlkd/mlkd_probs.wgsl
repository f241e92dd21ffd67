// MLKD's raw softmaxes at one temperature, one invocation per element (b, c), from the row
// statistics of mlkd_row.wgsl: Ps[b, c] = exp((zs - max zs) / T) / S_s(T) into probs[0 ..
// B C), Pt after it. One temperature at a time, so the correlation terms need 2 B C floats of
// scratch whatever the number of temperatures.
//
// Uniformity: no barriers in this file.

@group(0) @binding(0) var<uniform> params: CorrParams;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> probs: array<f32>;

@compute @workgroup_size(WG)
fn mlkd_probs(@builtin(global_invocation_id) gid: vec3<u32>) {
    let index = flat_index(gid, params.groups_x);
    let block = params.rows * params.cols;
    if index >= block {
        return;
    }
    let at = (index / params.cols) * (2u + 2u * MAX_TEMPERATURES);
    let z = vec2<f32>(load_student(index), load_teacher(index));
    let raw_max = vec2<f32>(stats[at], stats[at + 1u]);
    let sums = vec2<f32>(stats[at + 2u + 2u * params.temp_index], stats[at + 3u + 2u * params.temp_index]);
    let p = exp_accurate2((z - raw_max) * params.inv_t) / sums;
    probs[index] = p.x;
    probs[block + index] = p.y;
}
