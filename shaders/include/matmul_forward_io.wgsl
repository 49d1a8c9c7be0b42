// matmul_forward_io: the contract of the register-blocked forward matmul kernels (matmul_forward_tiled,
// matmul_forward_direct, matmul_forward_subgroup), out = inp @ weight^T + bias: their uniform and bindings, and
// include/matmul_block.wgsl's shape and store for r = out (M = N rows, N = OC columns, K = C).
//
//   out     (N, OC)    binding 1
//   inp     (N, C)     binding 2
//   weight  (OC, C)    binding 3, one row per output channel (PyTorch nn.Linear layout)
//   bias    (OC)       binding 4, optional (params.has_bias; a placeholder is bound otherwise)
//   inp4    (N, C/4)   binding 5, inp again viewed as vec4s when C % 4 == 0 (every row then starts on a
//                      16-byte boundary); a placeholder otherwise
//   weight4 (OC, C/4)  binding 6, weight again, likewise

#include "include/matmul_block.wgsl"
#include "include/matmul_forward_params.wgsl"

@group(0) @binding(1) var<storage, read_write> out: array<elem>;      // (N, OC)
@group(0) @binding(2) var<storage, read> inp: array<elem>;            // (N, C)
@group(0) @binding(3) var<storage, read> weight: array<elem>;         // (OC, C)
@group(0) @binding(4) var<storage, read> bias: array<elem>;           // (OC) or a placeholder
@group(0) @binding(5) var<storage, read> inp4: array<vec4<elem>>;     // (N, C/4) or a placeholder
@group(0) @binding(6) var<storage, read> weight4: array<vec4<elem>>;  // (OC, C/4) or a placeholder

fn matmul_shape() -> vec3<u32> {
    return vec3<u32>(params.N, params.OC, params.C);
}

fn store(n: u32, o: u32, sum: f32) {
    var y = sum;
    if (params.has_bias != 0u) {
        y += f32(bias[o]);
    }
    out[n * params.OC + o] = elem(y);
}

// inp[n, k .. k+4] (k a multiple of 4), zeros outside the matrix: one vec4 load when C % 4 == 0, else four
// bounds-checked scalars.
fn load_inp4(n: u32, k: u32) -> vec4<elem> {
    var x = vec4<elem>(0.0);
    if (n < params.N) {
        if (params.C % 4u == 0u) {
            if (k < params.C) {
                x = inp4[(n * params.C + k) / 4u];
            }
        } else {
            for (var e = 0u; e < 4u; e++) {
                if (k + e < params.C) {
                    x[e] = inp[n * params.C + k + e];
                }
            }
        }
    }
    return x;
}

// weight[o, k .. k+4], likewise.
fn load_weight4(o: u32, k: u32) -> vec4<elem> {
    var w = vec4<elem>(0.0);
    if (o < params.OC) {
        if (params.C % 4u == 0u) {
            if (k < params.C) {
                w = weight4[(o * params.C + k) / 4u];
            }
        } else {
            for (var e = 0u; e < 4u; e++) {
                if (k + e < params.C) {
                    w[e] = weight[o * params.C + k + e];
                }
            }
        }
    }
    return w;
}
