// rope_forward: rotary position embedding on the queries and keys of qkv. Within each head of size hs,
// channels (2i, 2i+1) form pair i (interleaved, RoFormer/GPT-J layout) and are rotated by the angle
// (pos0 + t) * 10000^(-2i/hs):  (x0, x1) -> (x0 cos - x1 sin, x0 sin + x1 cos). Values pass through.
//
//   out   (B, T, 3C)     written
//   inp   (B, T, 3C)     q | k | v, each C = NH * hs wide
//   table (T, hs/2, 2)   (cos, sin) of every (position, pair), computed on the CPU in f64 and rounded,
//                        exactly the CPU reference's table. Computing it here in f32 would not do: the
//                        angle of position 1000 is already ~1 ulp-of-angle off in f32, and WGSL only
//                        bounds cos/sin error inside [-pi, pi].
//
// One invocation owns one channel pair (2j, 2j+1) of one position (B*T*3C/2 pairs, include/rope_pair.wgsl); a
// workgroup owns WG consecutive pairs (include/elementwise.wgsl).

#include "include/elementwise.wgsl"
#include "include/rope_pair.wgsl"

@group(0) @binding(1) var<storage, read_write> out: array<elem>; // (B, T, 3C)
@group(0) @binding(2) var<storage, read> inp: array<elem>;       // (B, T, 3C)

override WG: u32 = 64u;

fn element(p: u32) {
    let at = rope_at(p);
    let y = rope_turn(p, vec2<elem>(inp[at], inp[at + 1u]), 1.0);
    out[at] = y.x;
    out[at + 1u] = y.y;
}
