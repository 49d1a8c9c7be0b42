// matmul_forward: out = inp @ weight^T + bias, the forward pass of a linear layer (PyTorch nn.Linear layout).
//
//   inp    (N, C)   rows are positions (N = B*T), columns input channels
//   weight (OC, C)  one row per output channel
//   bias   (OC)     optional (params.has_bias)
//   out    (N, OC)
//
// The readable version: one invocation owns one output element out[n, o] and walks the C inputs.
// A workgroup owns a TILE x TILE block of outputs (o along x, n along y).

#include "include/matmul_forward_params.wgsl"

@group(0) @binding(1) var<storage, read> inp: array<elem>;        // (N, C)
@group(0) @binding(2) var<storage, read> weight: array<elem>;     // (OC, C)
@group(0) @binding(3) var<storage, read> bias: array<elem>;       // (OC) or a placeholder
@group(0) @binding(4) var<storage, read_write> out: array<elem>;  // (N, OC)

override TILE: u32 = 8u;

@compute @workgroup_size(TILE, TILE)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let o = id.x;
    let n = id.y;
    if (o >= params.OC || n >= params.N) {
        return;
    }
    var acc = 0.0;
    if (params.has_bias != 0u) {
        acc = bias[o];
    }
    let inp_row = n * params.C;
    let weight_row = o * params.C;
    for (var c = 0u; c < params.C; c++) {
        acc += inp[inp_row + c] * weight[weight_row + c];
    }
    out[n * params.OC + o] = acc;
}
