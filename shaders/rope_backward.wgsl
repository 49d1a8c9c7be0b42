// rope_backward: the gradient of a rotation is the rotation back (its transpose), so for the q and k
// pairs  (g0, g1) -> (g0 cos + g1 sin, -g0 sin + g1 cos);  the values' gradient passes through.
// dinp is assigned. Same layout and table as rope_forward.wgsl.
//
//   dinp  (B, T, 3C)     written
//   dout  (B, T, 3C)
//   table (T, hs/2, 2)   (cos, sin) for positions pos0..pos0+T, computed on the CPU in f64 (see rope_forward)
//
// One invocation owns one channel pair of one position (include/rope_pair.wgsl); a workgroup owns WG
// consecutive pairs (include/elementwise.wgsl).

#include "include/elementwise.wgsl"
#include "include/rope_pair.wgsl"

@group(0) @binding(1) var<storage, read_write> dinp: array<elem>; // (B, T, 3C)
@group(0) @binding(2) var<storage, read> dout: array<elem>;       // (B, T, 3C)

override WG: u32 = 64u;

fn element(p: u32) {
    let at = rope_at(p);
    let y = rope_turn(p, vec2<elem>(dout[at], dout[at + 1u]), -1.0);  // the rotation back
    dinp[at] = y.x;
    dinp[at + 1u] = y.y;
}
