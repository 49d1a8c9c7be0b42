// matmul_forward_subgroup: out = inp @ weight^T + bias, the same contract as matmul_forward.wgsl, register-blocked
// like matmul_forward_tiled.wgsl but sharing inp across a subgroup with shuffles instead of workgroup memory.
//
//   out    (N, OC)
//   inp    (N, C)
//   weight (OC, C)  one row per output channel (PyTorch nn.Linear layout)
//   bias   (OC)     optional (params.has_bias; a placeholder is bound otherwise)
//   (bindings: include/matmul_forward_io.wgsl)
//
// Needs subgroups (native wgpu: Features::SUBGROUP, requested only where the adapter offers it). Naga (wgpu 30)
// rejects the `enable subgroups;` directive and accepts subgroup built-ins without it, so this file has none;
// a browser needs it prepended (Chromium's Tint accepts the file so: tests/browser/bindings/shaders.test.mjs).
// wgpu 30 does not pass the feature to browsers yet, so for now this kernel only runs natively; elsewhere the
// tiled kernel is used.
//
// Ownership: a workgroup is WG = WG_X * WG_Y invocations, one-dimensional (naga allows subgroup built-ins only in
// one-dimensional workgroups), seen as WG_Y rows of WG_X: lx = index % WG_X, ly = index / WG_X. It owns a
// BM x BN = (4*WG_Y) x (4*WG_X) block of out. Invocation (lx, ly) owns 4 x 4 outputs: rows n0 + 4*ly + i
// (i < 4, contiguous) and columns o0 + lx + j*WG_X (j < 4, strided so neighbouring invocations read neighbouring
// weight rows and write neighbouring words of out). Its 16 sums stay in registers as 4 vec4s.
//
// Sharing (the point of this kernel): all invocations with the same ly need the same 4 rows of inp. Subgroups are
// runs of consecutive linear indices (how Vulkan, Metal and D3D12 drivers form them for a compute workgroup; the
// GPU-vs-CPU tests catch a driver that does otherwise). A team is the TEAM = min(subgroup size, WG_X) consecutive
// lanes of a subgroup that share ly (WG_X and subgroup sizes are powers of two >= 4). For each slice of TEAM
// values of C, team lane t loads ONE vec4, inp[row t % 4, 4*(t / 4) .. +4 within the slice], and every lane then
// takes the 4 rows x TEAM values it needs from the lane that loaded each piece with subgroupShuffle. So each inp
// value is read from memory once per team instead of once per lane, with no workgroup memory and no barriers
// (what software adapters punish most). Weight values differ per lane (each owns other columns): read as vec4s.
// Subgroup operations must be reached by the whole subgroup: nobody returns early, values outside the matrices
// load as 0, and only the final writes are guarded.
// Loads: vec4s through inp4/weight4 when C % 4 == 0, else four bounds-checked scalars (load_inp4, load_weight4).

#include "include/matmul_forward_io.wgsl"

override WG_X: u32 = 16u;  // invocations along OC (a power of two >= 4)
override WG_Y: u32 = 8u;   // invocations along N
override WG: u32 = 128u;   // WG_X * WG_Y, the workgroup size (set together from Rust)

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lindex: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) subgroup_size: u32,
) {
    let lx = lindex % WG_X;
    let ly = lindex / WG_X;
    let n0 = wid.y * 4u * WG_Y + 4u * ly;  // my rows: n0 .. n0 + 4
    let o0 = wid.x * 4u * WG_X + lx;       // my columns: o0 + j*WG_X, j < 4
    let team = min(subgroup_size, WG_X);
    let t = lane % team;   // my place in the team
    let first = lane - t;  // the team's first lane
    var acc: array<vec4<elem>, 4>;  // acc[i][j]: out[n0 + i, o0 + j*WG_X] before the bias; zero-initialised

    for (var k0 = 0u; k0 < params.C; k0 += team) {
        // My piece of the team's slice: row t % 4, values k0 + 4*(t / 4) .. +4.
        let piece = load_inp4(n0 + t % 4u, k0 + 4u * (t / 4u));
        for (var q = 0u; q < team / 4u; q++) {
            let k = k0 + 4u * q;
            // inp[n0 + i, k .. k+4] from the lane that loaded it.
            let a0 = subgroupShuffle(piece, first + 4u * q);
            let a1 = subgroupShuffle(piece, first + 4u * q + 1u);
            let a2 = subgroupShuffle(piece, first + 4u * q + 2u);
            let a3 = subgroupShuffle(piece, first + 4u * q + 3u);
            let w0 = load_weight4(o0, k);
            let w1 = load_weight4(o0 + WG_X, k);
            let w2 = load_weight4(o0 + 2u * WG_X, k);
            let w3 = load_weight4(o0 + 3u * WG_X, k);
            acc[0] += vec4<elem>(dot(a0, w0), dot(a0, w1), dot(a0, w2), dot(a0, w3));
            acc[1] += vec4<elem>(dot(a1, w0), dot(a1, w1), dot(a1, w2), dot(a1, w3));
            acc[2] += vec4<elem>(dot(a2, w0), dot(a2, w1), dot(a2, w2), dot(a2, w3));
            acc[3] += vec4<elem>(dot(a3, w0), dot(a3, w1), dot(a3, w2), dot(a3, w3));
        }
    }

    store_block(acc, n0, 1u, o0, WG_X);
}
