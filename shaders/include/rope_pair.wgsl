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

struct RopePair {
    at: u32,       // the index of the pair's first value in the (B, T, 3C) buffer
    rotated: bool, // a q or k pair; v pairs pass through
    cos: f32,      // of the pair's angle, from the table (0 for v pairs)
    sin: f32,
}

fn element_count() -> u32 {
    return params.B * params.T * (3u * params.C / 2u);
}

fn rope_pair(p: u32) -> RopePair {
    let C = params.C;
    let pairs_per_row = 3u * C / 2u;
    let bt = p / pairs_per_row;
    let ch = 2u * (p % pairs_per_row); // channel of the first value within the row of 3C
    var pair = RopePair(bt * 3u * C + ch, ch < 2u * C, 0.0, 0.0);
    if (pair.rotated) {
        let hs = C / params.NH;
        let i = (ch % hs) / 2u; // pair within the head (C is a multiple of hs)
        let cs = (bt % params.T) * (hs / 2u) + i;
        pair.cos = table[2u * cs];
        pair.sin = table[2u * cs + 1u];
    }
    return pair;
}
