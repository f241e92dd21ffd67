// Probe run once per device before the subgroup reductions are used: checks that
// local_invocation_index is laid out linearly over full subgroups (lid = first lid of the
// subgroup + subgroup_invocation_id, every subgroup with subgroup_size active lanes), and
// records the smallest subgroup size seen. The result lands in `report`:
//   report[0] = 1 if any invocation broke the layout; report[1] = min subgroup size.
// Only integer atomics: the report is the same whatever the order.
//
// Uniformity: no barriers in this file; the subgroup operations run in uniform control flow.

// (No `enable subgroups;`: naga takes the subgroup builtins under the SUBGROUP feature.)

@group(0) @binding(0) var<storage, read_write> report: array<atomic<u32>, 2>;

@compute @workgroup_size(256)
fn subgroup_probe(
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) size: u32,
) {
    let first = subgroupBroadcastFirst(lid);
    let present = subgroupAdd(1u);
    if lid != first + lane || present != size {
        atomicOr(&report[0], 1u);
    }
    atomicMin(&report[1], size);
}
