// attention_backward_fused, step 1 of 3: delta = dout . out per head and position, the term the softmax's
// backward subtracts: sum_j att[j] * datt[j] = dout . (sum_j att[j] * dropout[j] * v[j]) = dout . out.
//
//   delta (B, NH, T)  written
//   dout  (B, T, C)
//   out   (B, T, C)   the forward's output (the heads' weighted sums of values)
//
// One invocation owns one (b, h, t) and loops over the head's hs channels; a workgroup owns WG consecutive
// (b, h, t) (include/elementwise.wgsl).

#variants f16

#include "include/elementwise.wgsl"
#include "include/attention_fused.wgsl"

@group(0) @binding(1) var<storage, read_write> delta: array<f32>; // (B, NH, T)
@group(0) @binding(2) var<storage, read> dout: array<elem>;       // (B, T, C)
@group(0) @binding(3) var<storage, read> out: array<elem>;        // (B, T, C)

override WG: u32 = 64u;

fn element_count() -> u32 {
    return params.B * params.NH * params.T;
}

// r = (b * NH + h) * T + t
fn element(r: u32) {
    let T = params.T;
    let NH = params.NH;
    let t = r % T;
    let h = (r / T) % NH;
    let b = r / (T * NH);
    let at = head_at(b, t, h);
    let hs = params.C / NH;
    var d = 0.0;
    for (var i = 0u; i < hs; i++) {
        d += f32(dout[at + i]) * f32(out[at + i]);
    }
    delta[r] = d;
}
