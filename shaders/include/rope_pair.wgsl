// rope_pair: where channel pair p of a (B, T, 3C) qkv buffer lives and the (cos, sin) that rotates it, shared by
// rope_forward and rope_backward (the backward rotates by the opposite angle with the same table).
//
// Pair p is channels (2j, 2j+1) of position bt = p / (3C/2): B*T*3C/2 pairs, the range of
// include/elementwise.wgsl. The kernel declares bindings 1 and 2 (the output and the input, (B, T, 3C)).
//
//   params  binding 0: B, T, C, NH (C = NH * hs)
//   table   binding 3: (T, hs/2, 2), (cos, sin) of every (position, pair), computed on the CPU in f64

struct Params {
    B: u32,
    T: u32,
    C: u32,
    NH: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> table: array<f32>; // (T, hs/2, 2)

fn element_count() -> u32 {
    return params.B * params.T * (3u * params.C / 2u);
}

// The index of pair p's first value in the (B, T, 3C) buffer.
fn rope_at(p: u32) -> u32 {
    let pairs_per_row = 3u * params.C / 2u;
    return (p / pairs_per_row) * 3u * params.C + 2u * (p % pairs_per_row);
}

// Pair p's values x = (x0, x1) turned by the pair's angle times `direction` (1: forward, -1: back, the
// transpose): (x0 cos - x1 sin, x0 sin + x1 cos) with sin negated for -1, which is exact. v pairs pass through.
fn rope_turn(p: u32, x: vec2<elem>, direction: f32) -> vec2<elem> {
    let C = params.C;
    let pairs_per_row = 3u * C / 2u;
    let bt = p / pairs_per_row;
    let ch = 2u * (p % pairs_per_row); // channel of x0 within the row of 3C
    if (ch >= 2u * C) {
        return x; // v: unchanged
    }
    let hs = C / params.NH;
    let i = (ch % hs) / 2u; // pair within the head (C is a multiple of hs)
    let cs = (bt % params.T) * (hs / 2u) + i;
    let co = table[2u * cs];
    let si = table[2u * cs + 1u] * direction;
    return vec2<elem>(x.x * co - x.y * si, x.x * si + x.y * co);
}
