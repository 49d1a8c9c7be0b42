// distill_forward: the knowledge-distillation loss of Hinton et al., per position:
//   losses = alpha * tau^2 * KL(softmax(teacher / tau) || softmax(student / tau)) + (1 - alpha) * -ln softmax(student)[target]
//
//   losses        (B, T)     the loss above
//   probs         (B, T, V)  softmax(student), for the cross-entropy's gradient
//   soft_student  (B, T, V)  softmax(student / tau)
//   soft_teacher  (B, T, V)  softmax(teacher / tau), the soft targets
//   student       (B, T, V)  the student's logits
//   teacher       (B, T, V)  the teacher's logits (forward only: nothing flows back to it)
//   targets       (B, T)     token ids (u32); an id >= V gives a NaN loss rather than a read out of bounds
//
// One workgroup owns one position (b, t): its invocations split the V logits (v = lid, lid + WG, ...) and
// reduce, in workgroup memory (include/workgroup_reduce.wgsl), the two row maxima, the three sums of
// exponentials and then the KL divergence; invocation 0 writes the loss. Dispatch: (T, B) workgroups.
// The log-probabilities inside the KL come from log-sum-exp, not ln(p), so a teacher probability that
// rounds to 0 contributes 0 and not 0 * -inf.

#include "include/distill_params.wgsl"
#include "include/workgroup_reduce.wgsl"

@group(0) @binding(1) var<storage, read_write> losses: array<f32>;        // (B, T)
@group(0) @binding(2) var<storage, read_write> probs: array<elem>;        // (B, T, V)
@group(0) @binding(3) var<storage, read_write> soft_student: array<elem>; // (B, T, V)
@group(0) @binding(4) var<storage, read_write> soft_teacher: array<elem>; // (B, T, V)
@group(0) @binding(5) var<storage, read> student: array<elem>;            // (B, T, V)
@group(0) @binding(6) var<storage, read> teacher: array<elem>;            // (B, T, V)
@group(0) @binding(7) var<storage, read> targets: array<u32>;             // (B, T)

// Invocations per workgroup: a power of two (include/workgroup_reduce.wgsl).
override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let V = params.V;
    let tau = params.temperature;
    let bt = wid.y * params.T + wid.x;
    let at = bt * V;

    // max(student / tau) = max(student) / tau for tau > 0: one maximum serves both softmaxes of the student.
    var local_student_max = LOWEST;
    var local_teacher_max = LOWEST;
    for (var v = lid; v < V; v += WG) {
        local_student_max = max(local_student_max, student[at + v]);
        local_teacher_max = max(local_teacher_max, teacher[at + v]);
    }
    let student_max = workgroup_max(lid, local_student_max);
    let teacher_max = workgroup_max(lid, local_teacher_max);

    // Exponentials, stored unnormalised and scaled below by the same invocation that wrote them.
    var local_sum = 0.0;
    var local_student_sum = 0.0;
    var local_teacher_sum = 0.0;
    for (var v = lid; v < V; v += WG) {
        let s = student[at + v] - student_max;
        let e = exp(s);
        let es = exp(s / tau);
        let et = exp((teacher[at + v] - teacher_max) / tau);
        probs[at + v] = e;
        soft_student[at + v] = es;
        soft_teacher[at + v] = et;
        local_sum += e;
        local_student_sum += es;
        local_teacher_sum += et;
    }
    let sum = workgroup_sum(lid, local_sum);
    let student_sum = workgroup_sum(lid, local_student_sum);
    let teacher_sum = workgroup_sum(lid, local_teacher_sum);
    let log_student_sum = log(student_sum);
    let log_teacher_sum = log(teacher_sum);

    // KL(pt || ps) = sum_v pt[v] * (ln pt[v] - ln ps[v]), each ln from log-sum-exp.
    var local_kl = 0.0;
    for (var v = lid; v < V; v += WG) {
        probs[at + v] *= 1.0 / sum;
        soft_student[at + v] *= 1.0 / student_sum;
        soft_teacher[at + v] *= 1.0 / teacher_sum;
        let log_pt = (teacher[at + v] - teacher_max) / tau - log_teacher_sum;
        let log_ps = (student[at + v] - student_max) / tau - log_student_sum;
        local_kl += soft_teacher[at + v] * (log_pt - log_ps);
    }
    let kl = workgroup_sum(lid, local_kl);

    if (lid == 0u) {
        let token = targets[bt];
        if (token < V) {
            let ce = log(sum) + student_max - student[at + token];
            let alpha = params.alpha;
            losses[bt] = alpha * tau * tau * kl + (1.0 - alpha) * ce;
        } else {
            // WGSL has no NaN literal: the bit pattern of a quiet NaN, through a `var` because browsers
            // (Tint) reject a constant expression that evaluates to NaN.
            var quiet_nan_bits = 0x7fc00000u;
            losses[bt] = bitcast<f32>(quiet_nan_bits);
        }
    }
}
