// global_norm: norm = sqrt(sum of grads^2) over the flat gradient buffer, in two dispatches of this file.
//
//   norm     (2)            norm[0]: the result; it stays on the GPU for clip_by_global_norm.wgsl to read.
//                           norm[1]: 1 / the loss scale (1 without loss scaling), written by the trainer: the
//                           gradients are those of the scaled loss, so each is unscaled before it is squared
//                           and the norm is that of the true gradients; an inf or NaN gradient makes it inf or
//                           NaN, which is how a step that overflowed is found (and skipped by adamw_update).
//   partials (num_groups)   scratch: one partial sum of squares per stage-0 workgroup (at most WG of them)
//   grads    (N)
//
// STAGE 0 (num_groups workgroups): workgroup w sums g^2 over elements w*WG + lid, stepping by num_groups*WG
//   (neighbouring invocations read neighbouring words), reduces its WG sums in workgroup memory
//   (include/workgroup_reduce.wgsl) and writes partials[w]. One invocation owns a strided set of elements; one workgroup owns one partial.
// STAGE 1 (one workgroup): invocation lid takes partials[lid] (num_groups <= WG), the workgroup reduces them
//   and writes norm[0] = sqrt(total).
// A gradient larger than one storage binding is bound in pieces: stage 0 runs once per piece with the same
//   num_groups, the first writing the partials and the others adding to them (`accumulate`), then one stage 1.
// No atomics and no readback: the next dispatch in the same pass sees the result.
// Sums are in f32 (the CPU reference sums in f64): for a few million values of similar size the relative
// error stays around 1e-6, well inside the tolerance, and the tree order keeps it from growing with N.

#include "include/workgroup_reduce.wgsl"

struct Params {
    N: u32,
    num_groups: u32,
    accumulate: u32,  // stage 0: 0 writes the partials, 1 adds to them (the later pieces of a gradient bound in pieces)
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> norm: array<f32>;      // (2): the norm, 1 / loss scale
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;  // (num_groups)
@group(0) @binding(3) var<storage, read> grads: array<elem>;          // (N)

override WG: u32 = 256u;   // invocations per workgroup, a power of two
override STAGE: u32 = 0u;  // 0: partial sums of squares; 1: combine the partials into the norm

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    var sum = 0.0;
    if (STAGE == 0u) {
        for (var i = wid.x * WG + lid; i < params.N; i += params.num_groups * WG) {
            let g = grads[i] * norm[1];
            sum += g * g;
        }
    } else if (lid < params.num_groups) {
        sum = partials[lid];
    }
    let total = workgroup_sum(lid, sum);
    if (lid == 0u) {
        if (STAGE == 0u && params.accumulate != 0u) {
            partials[wid.x] += total;
        } else if (STAGE == 0u) {
            partials[wid.x] = total;
        } else {
            norm[0] = sqrt(total);
        }
    }
}
