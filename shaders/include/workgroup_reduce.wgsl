// workgroup_reduce: the sum or the max of one value per invocation over a workgroup, by a tree in workgroup
// memory; shared by the kernels in which a workgroup owns a row (softmax, layernorm, norms).
//
// The kernel declares `override WG: u32`, its invocations per workgroup, a power of two. Every invocation of the
// workgroup makes the same calls (uniform control flow): each call holds barriers. The result reaches every
// invocation, and another call may follow at once (its writes wait until everyone has read this result).
// The tree adds in a fixed order, so a result does not depend on timing.

#include "include/prelude.wgsl"

var<workgroup> partial: array<f32, WG>;

fn workgroup_sum(lid: u32, x: f32) -> f32 {
    return workgroup_reduce(lid, x, false);
}

fn workgroup_max(lid: u32, x: f32) -> f32 {
    return workgroup_reduce(lid, x, true);
}

fn workgroup_reduce(lid: u32, x: f32, is_max: bool) -> f32 {
    partial[lid] = x;
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (lid < stride) {
            if (is_max) {
                partial[lid] = max(partial[lid], partial[lid + stride]);
            } else {
                partial[lid] += partial[lid + stride];
            }
        }
    }
    workgroupBarrier();
    let result = partial[0];
    // Nobody may overwrite partial[] for the next reduction before everyone has read the result.
    workgroupBarrier();
    return result;
}
