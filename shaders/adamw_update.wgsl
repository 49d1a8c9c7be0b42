// adamw_update: one AdamW step (decoupled weight decay) over a flat range of parameters.
//
//   params (N)  updated in place: params -= lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * params)
//   m      (N)  first moment, updated in place
//   v      (N)  second moment, updated in place
//   grads  (N)
//   step   (4)  AdamwStep {lr, 1/(1 - beta1^t), 1/(1 - beta2^t), t}: the per-step scalars
//   norm   (2)  [the global gradient norm of this step (global_norm), 1 / the loss scale]: when the norm is NaN
//               or infinite the step is skipped entirely, so a diverging run (or, with loss scaling, a step whose
//               scaled gradients overflowed) keeps its last good weights and moments; each gradient is unscaled
//               (times norm[1]) before it is used
//
// The constants of the run (beta1, beta2, eps, weight_decay) are in the uniform, built once with the plan.
// The learning rate follows a schedule and the bias corrections depend on the step count, so they live in a
// small storage buffer that the trainer rewrites with `queue.write_buffer` before submitting each step
// (computed on the CPU in f64, exactly as the CPU reference does).
// One invocation owns one parameter (and its m, v); a workgroup owns WG consecutive parameters
// (include/elementwise.wgsl).

#include "include/elementwise.wgsl"

struct Params {
    N: u32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Step {
    lr: f32,
    bias_correction1: f32,  // 1 / (1 - beta1^t)
    bias_correction2: f32,  // 1 / (1 - beta2^t)
    t: u32,                 // counts from 1 (not used by the kernel; kept for readers of the buffer)
}

@group(0) @binding(0) var<uniform> config: Params;
@group(0) @binding(1) var<storage, read_write> params: array<elem>;  // (N)
@group(0) @binding(2) var<storage, read_write> m: array<elem>;       // (N)
@group(0) @binding(3) var<storage, read_write> v: array<elem>;       // (N)
@group(0) @binding(4) var<storage, read> grads: array<elem>;         // (N)
@group(0) @binding(5) var<storage, read> step: Step;
@group(0) @binding(6) var<storage, read> norm: array<f32>;           // (2)

override WG: u32 = 256u;

fn element_count() -> u32 {
    return config.N;
}

fn element(i: u32) {
    // An exponent of all ones is Inf or NaN (WGSL has no isnan/isinf that survives fast-math compilers).
    if ((bitcast<u32>(norm[0]) & 0x7f800000u) == 0x7f800000u) {
        return;
    }
    let g = grads[i] * norm[1];
    let m_i = config.beta1 * m[i] + (1.0 - config.beta1) * g;
    let v_i = config.beta2 * v[i] + (1.0 - config.beta2) * g * g;
    m[i] = m_i;
    v[i] = v_i;
    let m_hat = m_i * step.bias_correction1;
    let v_hat = v_i * step.bias_correction2;
    let p = params[i];
    params[i] = p - step.lr * (m_hat / (sqrt(v_hat) + config.eps) + config.weight_decay * p);
}
