// elementwise: the entry point of a kernel in which one invocation owns one item i of a flat range (an element,
// a channel pair, a row) and nothing is shared between invocations.
//
// The kernel declares:
//   override WG: u32              invocations per workgroup
//   fn element_count() -> u32     the length of the range
//   fn element(i: u32)            computes item i; called once for each i < element_count()
//
// A workgroup owns WG consecutive items. Long launches are folded into a 2-D grid of workgroups (WebGPU caps a
// dimension at 65535; GpuContext::grid_1d), hence the flat index from (wid.y, wid.x).

#include "include/prelude.wgsl"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * WG + lid;
    if (i < element_count()) {
        element(i);
    }
}
