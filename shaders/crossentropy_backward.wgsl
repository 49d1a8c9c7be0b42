// crossentropy_backward: dlogits = (probs - onehot(target)) * dlosses, assigned (an activation gradient).
//
//   dlogits (B, T, V)
//   dlosses (B, T)     e.g. 1 / (B*T) everywhere for the mean loss
//   probs   (B, T, V)  from crossentropy_forward
//   targets (B, T)     token ids (u32); IGNORE_INDEX (0xffffffff) gives a row of zeros (the position does not
//                      count); any other id >= V matches no v, so that row gets probs * dlosses only
//
// One invocation owns one element dlogits[b, t, v]; a workgroup owns WG consecutive v of one position.
// Dispatch: (ceil(V / WG), T, B) workgroups.

#variants f16

#include "include/crossentropy_params.wgsl"

@group(0) @binding(1) var<storage, read_write> dlogits: array<elem>;  // (B, T, V)
@group(0) @binding(2) var<storage, read> dlosses: array<f32>;         // (B, T)
@group(0) @binding(3) var<storage, read> probs: array<elem>;          // (B, T, V)
@group(0) @binding(4) var<storage, read> targets: array<u32>;         // (B, T)

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let v = gid.x;
    if (v >= params.V) {
        return;
    }
    let bt = gid.z * params.T + gid.y;
    let at = bt * params.V + v;
    if (targets[bt] == IGNORE_INDEX) {
        dlogits[at] = elem(0.0);
        return;
    }
    let d = dlosses[bt];
    var g = f32(probs[at]) * d;
    if (v == targets[bt]) {
        g -= d;
    }
    dlogits[at] = elem(g);
}
