// dropout_hash: the counter-based random keep/drop decision of dropout, shared by dropout_forward (which writes
// the mask) and the fused attention kernels (which recompute the mask of the attention weights instead of
// reading one), so both draw the same numbers, bit for bit, as the CPU's ops/dropout_forward.rs.
//
// Element `index` of a mask seeded with `seed`: u = (pcg_hash(pcg_hash(seed) ^ index) >> 8) / 2^24, dropped
// when u < p. WGSL u32 arithmetic wraps like Rust's wrapping_mul/wrapping_add, shifts by less than 32 are the
// same, and u has 24 bits so the conversion to f32 and the division by 2^24 are exact.

// The "pcg" hash (Jarzynski & Olano 2020): one PCG state step, then its output permutation.
fn pcg_hash(input: u32) -> u32 {
    let state = input * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// The mask value of element `index`: 0 when dropped, else `keep` (1/(1-p), rounded on the CPU).
// `seed_hash` is pcg_hash(seed), hashed once per invocation by the caller.
fn dropout_multiplier(seed_hash: u32, index: u32, p: f32, keep: f32) -> f32 {
    let u = f32(pcg_hash(seed_hash ^ index) >> 8u) / 16777216.0;
    return select(keep, 0.0, u < p);
}
