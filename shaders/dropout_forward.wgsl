// dropout_forward: mask = 0 with probability p, else 1/(1-p); out = inp * mask. The mask is an output,
// kept for the backward pass.
//
// The random number of element i is the CPU's (ops/dropout_forward.rs) bit for bit: counter-based,
// u = (pcg_hash(pcg_hash(seed) ^ i) >> 8) / 2^24, dropped when u < p. WGSL u32 arithmetic wraps like
// Rust's wrapping_mul/wrapping_add, shifts by less than 32 are the same, and u has 24 bits so the
// conversion to f32 and the division by 2^24 are exact: the GPU mask equals dropout_mask_cpu's.
// `keep` = 1/(1-p) is rounded to f32 on the CPU (from f64, as the CPU reference does) and passed in.
//
//   out  (N)  written
//   mask (N)  written, 0 or keep
//   inp  (N)
//
// One invocation owns one element; a workgroup owns WG consecutive elements (2-D folded grid).

struct Params {
    N: u32,
    seed: u32,
    p: f32,
    keep: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // (N)
@group(0) @binding(2) var<storage, read_write> mask: array<f32>; // (N)
@group(0) @binding(3) var<storage, read> inp: array<f32>;        // (N)

override WG: u32 = 64u;

// The "pcg" hash (Jarzynski & Olano 2020): one PCG state step, then its output permutation.
fn pcg_hash(input: u32) -> u32 {
    let state = input * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * WG + lid;
    if (i >= params.N) {
        return;
    }
    let u = f32(pcg_hash(pcg_hash(params.seed) ^ i) >> 8u) / 16777216.0;
    let m = select(params.keep, 0.0, u < params.p);
    mask[i] = m;
    out[i] = inp[i] * m;
}
