// distill_backward: the gradient of the distillation loss with respect to the student's logits, assigned
// (an activation gradient):
//   dstudent = dlosses * (alpha * tau * (soft_student - soft_teacher) + (1 - alpha) * (probs - onehot(target)))
// (the tau^2 of the loss times the 1 / tau of d softmax(s / tau) leaves one tau).
//
//   dstudent      (B, T, V)
//   dlosses       (B, T)     e.g. 1 / (B*T) everywhere for the mean loss
//   probs         (B, T, V)  softmax(student), from distill_forward
//   soft_student  (B, T, V)  softmax(student / tau), from distill_forward
//   soft_teacher  (B, T, V)  softmax(teacher / tau), from distill_forward
//   targets       (B, T)     token ids (u32); an id >= V matches no v
//
// One invocation owns one element dstudent[b, t, v]; a workgroup owns WG consecutive v of one position.
// Dispatch: (ceil(V / WG), T, B) workgroups.

#include "include/distill_params.wgsl"

@group(0) @binding(1) var<storage, read_write> dstudent: array<elem>;  // (B, T, V)
@group(0) @binding(2) var<storage, read> dlosses: array<f32>;          // (B, T)
@group(0) @binding(3) var<storage, read> probs: array<elem>;           // (B, T, V)
@group(0) @binding(4) var<storage, read> soft_student: array<elem>;    // (B, T, V)
@group(0) @binding(5) var<storage, read> soft_teacher: array<elem>;    // (B, T, V)
@group(0) @binding(6) var<storage, read> targets: array<u32>;          // (B, T)

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let v = gid.x;
    if (v >= params.V) {
        return;
    }
    let bt = gid.z * params.T + gid.y;
    let at = bt * params.V + v;
    let alpha = params.alpha;
    var hard = probs[at];
    if (v == targets[bt]) {
        hard -= 1.0;
    }
    let soft = params.temperature * (soft_student[at] - soft_teacher[at]);
    dstudent[at] = dlosses[bt] * (alpha * soft + (1.0 - alpha) * hard);
}
