// crossentropy_forward: softmax over the vocabulary fused with the cross-entropy of the target token.
//
//   losses  (B, T)     -ln probs[b, t, targets[b, t]], from log-sum-exp: ln(sum) + max - logits[target]
//   probs   (B, T, V)  softmax of each row of logits, the row maximum subtracted first
//   logits  (B, T, V)
//   targets (B, T)     token ids (u32); IGNORE_INDEX (0xffffffff) gives loss 0 (a position that does not
//                      count); any other id >= V gives a NaN loss rather than a read out of bounds
//
// One workgroup owns one position (b, t): its invocations split the V logits (v = lid, lid + WG, ...),
// reduce the row's max and then its sum of exponentials in workgroup memory
// (include/workgroup_reduce.wgsl), and write the probabilities;
// invocation 0 writes the loss. Dispatch: (T, B) workgroups.
// The f16 variant reads logits and writes probs as f16; the max, the sum of exponentials and the loss are f32.

#variants f16

#include "include/crossentropy_params.wgsl"
#include "include/workgroup_reduce.wgsl"

@group(0) @binding(1) var<storage, read_write> losses: array<f32>;  // (B, T)
@group(0) @binding(2) var<storage, read_write> probs: array<elem>;  // (B, T, V)
@group(0) @binding(3) var<storage, read> logits: array<elem>;       // (B, T, V)
@group(0) @binding(4) var<storage, read> targets: array<u32>;       // (B, T)

// Invocations per workgroup: a power of two (include/workgroup_reduce.wgsl).
override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let V = params.V;
    let bt = wid.y * params.T + wid.x;
    let at = bt * V;

    var local_max = LOWEST;
    for (var v = lid; v < V; v += WG) {
        local_max = max(local_max, f32(logits[at + v]));
    }
    let row_max = workgroup_max(lid, local_max);

    // The exponentials are summed, then computed again and normalised as they are stored (one rounding to
    // the stored type, and no read of probs).
    var local_sum = 0.0;
    for (var v = lid; v < V; v += WG) {
        local_sum += exp(f32(logits[at + v]) - row_max);
    }
    let sum = workgroup_sum(lid, local_sum);
    let inv = 1.0 / sum;
    for (var v = lid; v < V; v += WG) {
        probs[at + v] = elem(exp(f32(logits[at + v]) - row_max) * inv);
    }

    if (lid == 0u) {
        let token = targets[bt];
        if (token == IGNORE_INDEX) {
            losses[bt] = 0.0;
        } else if (token < V) {
            losses[bt] = log(sum) + row_max - f32(logits[at + token]);
        } else {
            // WGSL has no NaN literal: the bit pattern of a quiet NaN, through a `var` because browsers
            // (Tint) reject a constant expression that evaluates to NaN.
            var quiet_nan_bits = 0x7fc00000u;
            losses[bt] = bitcast<f32>(quiet_nan_bits);
        }
    }
}
