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
// One invocation owns one channel pair (2j, 2j+1) of one position (B*T*3C/2 pairs); a workgroup owns WG
// consecutive pairs (2-D folded grid).

struct Params {
    B: u32,
    T: u32,
    C: u32,
    NH: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // (B, T, 3C)
@group(0) @binding(2) var<storage, read> inp: array<f32>;       // (B, T, 3C)
@group(0) @binding(3) var<storage, read> table: array<f32>;     // (T, hs/2, 2)

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let C = params.C;
    let pairs_per_row = 3u * C / 2u;
    let p = (wid.y * nwg.x + wid.x) * WG + lid;
    if (p >= params.B * params.T * pairs_per_row) {
        return;
    }
    let bt = p / pairs_per_row;
    let ch = 2u * (p % pairs_per_row); // channel of x0 within the row of 3C
    let at = bt * 3u * C + ch;
    let x0 = inp[at];
    let x1 = inp[at + 1u];
    if (ch >= 2u * C) {
        // v: unchanged
        out[at] = x0;
        out[at + 1u] = x1;
        return;
    }
    let hs = C / params.NH;
    let i = (ch % hs) / 2u; // pair within the head (C is a multiple of hs)
    let cs = (bt % params.T) * (hs / 2u) + i;
    let co = table[2u * cs];
    let si = table[2u * cs + 1u];
    out[at] = x0 * co - x1 * si;
    out[at + 1u] = x0 * si + x1 * co;
}
