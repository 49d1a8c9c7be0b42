//! adamw_update: one step of AdamW (Loshchilov & Hutter 2019), decoupled weight decay.
//!
//! Intuition: move each parameter against a running average of its gradient (m), divided by a running
//! average of the gradient's size (sqrt v), so every parameter takes steps of about `lr`; separately shrink
//! the weight itself a little toward zero (weight decay, not added to the gradient).

use super::float::Float;
use super::parallel::{multiversion, par_chunks3};

/// params (N) -= lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * params), updating m (N) and v (N)
/// from grads (N); `step` counts from 1 (bias correction m_hat = m / (1 - beta1^step), as PyTorch).
/// Call it per parameter group with weight_decay = 0 for the groups that are not decayed.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn adamw_update_cpu<R: Float>(
    params: &mut [R],
    m: &mut [R],
    v: &mut [R],
    grads: &[R],
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    step: u32,
) {
    let (b1, b2) = (f64::from(beta1), f64::from(beta2));
    let c1 = R::from_f64(1.0 / (1.0 - b1.powi(step as i32)));
    let c2 = R::from_f64(1.0 / (1.0 - b2.powi(step as i32)));
    let (lr, eps, wd) = (
        R::from_f64(f64::from(lr)),
        R::from_f64(f64::from(eps)),
        R::from_f64(f64::from(weight_decay)),
    );
    let (beta1, beta2) = (R::from_f64(b1), R::from_f64(b2));
    for i in 0..params.len() {
        let g = grads[i];
        m[i] = beta1 * m[i] + (R::ONE - beta1) * g;
        v[i] = beta2 * v[i] + (R::ONE - beta2) * g * g;
        let m_hat = m[i] * c1;
        let v_hat = v[i] * c2;
        params[i] -= lr * (m_hat / (v_hat.sqrt() + eps) + wd * params[i]);
    }
}

/// The fast CPU version, same contract and the same arithmetic per value as [`adamw_update_cpu`] (so the
/// same bits), in parallel pieces with the loop vectorized as wide as the CPU allows: the trainer's.
#[allow(clippy::too_many_arguments)]
pub fn adamw_update_fast_cpu<R: Float>(
    params: &mut [R],
    m: &mut [R],
    v: &mut [R],
    grads: &[R],
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    step: u32,
) {
    const PIECE: usize = 1 << 14;
    par_chunks3(
        (params, PIECE),
        (m, PIECE),
        (v, PIECE),
        |i, params, m, v| {
            let grads = &grads[i * PIECE..][..params.len()];
            // The wasm module (built for size, not vectorized by the compiler) takes the simd128 version, same bits.
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            if super::simd128::enabled()
                && let (Some(p), Some(m), Some(v), Some(g)) = (
                    super::float::as_f32_mut(params),
                    super::float::as_f32_mut(m),
                    super::float::as_f32_mut(v),
                    super::float::as_f32(grads),
                )
            {
                // The bias corrections as adamw_update_cpu computes them (in f64, then rounded to f32).
                let (b1, b2) = (f64::from(beta1), f64::from(beta2));
                let c1 = (1.0 / (1.0 - b1.powi(step as i32))) as f32;
                let c2 = (1.0 / (1.0 - b2.powi(step as i32))) as f32;
                super::simd128::adamw(p, m, v, g, lr, beta1, beta2, eps, weight_decay, c1, c2);
                return;
            }
            adamw_piece(
                params,
                m,
                v,
                grads,
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                step,
            );
        },
    );
}

multiversion! {
/// [`adamw_update_cpu`] on one piece.
fn adamw_piece<R: Float>(
    params: &mut [R],
    m: &mut [R],
    v: &mut [R],
    grads: &[R],
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    step: u32,
) {
    adamw_update_cpu(params, m, v, grads, lr, beta1, beta2, eps, weight_decay, step);
}
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod fast_tests {
    use super::*;
    use crate::ops::testing::{TestRng, on_threads};

    #[test]
    fn fast_update_is_the_reference_bit_for_bit_on_any_thread_count() {
        let mut rng = TestRng::new(44);
        let n = 40_000; // several pieces and a short last one
        let (p0, m0, g) = (rng.vec(n), rng.vec(n), rng.vec(n));
        let v0: Vec<f32> = rng.vec(n).iter().map(|x| x.abs()).collect();
        let mut want = (p0.clone(), m0.clone(), v0.clone());
        adamw_update_cpu(
            &mut want.0,
            &mut want.1,
            &mut want.2,
            &g,
            1e-3,
            0.9,
            0.99,
            1e-8,
            0.1,
            7,
        );
        for threads in [1, 3] {
            let got = on_threads(threads, || {
                let mut got = (p0.clone(), m0.clone(), v0.clone());
                adamw_update_fast_cpu(
                    &mut got.0, &mut got.1, &mut got.2, &g, 1e-3, 0.9, 0.99, 1e-8, 0.1, 7,
                );
                got
            });
            assert!(
                got == want,
                "{threads} thread(s): the fast update differs from the reference"
            );
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_parameter_by_lr() {
        // At step 1, m_hat = g and v_hat = g^2, so the step is lr * sign(g) (plus decay).
        let mut p = vec![1.0f64, -2.0, 0.5];
        let (mut m, mut v) = (vec![0.0; 3], vec![0.0; 3]);
        adamw_update_cpu(
            &mut p,
            &mut m,
            &mut v,
            &[0.3, -4.0, 1e-3],
            0.1,
            0.9,
            0.999,
            1e-8,
            0.0,
            1,
        );
        assert!(
            (p[0] - 0.9).abs() < 1e-6 && (p[1] + 1.9).abs() < 1e-6 && (p[2] - 0.4).abs() < 1e-5,
            "{p:?}"
        );
        // Decoupled decay: a zero gradient still shrinks the weight by lr * wd * w.
        let mut p = vec![2.0f64];
        let (mut m, mut v) = (vec![0.0], vec![0.0]);
        adamw_update_cpu(
            &mut p,
            &mut m,
            &mut v,
            &[0.0],
            0.1,
            0.9,
            0.999,
            1e-8,
            0.5,
            1,
        );
        assert!((p[0] - (2.0 - 0.1 * 0.5 * 2.0)).abs() < 1e-7, "{p:?}");
    }

    #[test]
    fn minimises_a_quadratic() {
        // f(p) = sum (p - target)^2, gradient 2 (p - target).
        let target = [3.0f32, -1.0, 0.25];
        let mut p = vec![0.0f32; 3];
        let (mut m, mut v) = (vec![0.0; 3], vec![0.0; 3]);
        for step in 1..=500 {
            let g: Vec<f32> = p.iter().zip(&target).map(|(p, t)| 2.0 * (p - t)).collect();
            adamw_update_cpu(
                &mut p, &mut m, &mut v, &g, 0.05, 0.9, 0.999, 1e-8, 0.0, step,
            );
        }
        for (p, t) in p.iter().zip(&target) {
            assert!((p - t).abs() < 1e-2, "{p} vs {t}");
        }
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};
    use crate::ops::global_norm::flat_workgroups;

    /// `shaders/adamw_update.wgsl`: one invocation per parameter.
    pub const ADAMW_UPDATE_SHADER: &str = shader!("adamw_update");

    const WG: u32 = 256;

    /// The run's constants for the shader (its `Params`), built once with the plan.
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        n: u32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        _pad: [u32; 3],
    }

    /// The scalars that change every step, in a 4-float storage buffer the kernel reads (its WGSL `Step`).
    ///
    /// The plan's uniforms are built once, but the learning rate follows a schedule and the bias corrections
    /// depend on the step count, so the trainer rewrites this buffer with [`AdamwStep::write`]
    /// (`queue.write_buffer`) before submitting each step. Writes queued before a submit are seen by it.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct AdamwStep {
        pub lr: f32,
        /// 1 / (1 - beta1^step), computed in f64 as in [`adamw_update_cpu`](super::adamw_update_cpu).
        pub bias_correction1: f32,
        /// 1 / (1 - beta2^step).
        pub bias_correction2: f32,
        /// The step count, from 1.
        pub step: u32,
    }

    impl AdamwStep {
        pub fn new(lr: f32, beta1: f32, beta2: f32, step: u32) -> Self {
            let correction = |beta: f32| (1.0 / (1.0 - f64::from(beta).powi(step as i32))) as f32;
            Self {
                lr,
                bias_correction1: correction(beta1),
                bias_correction2: correction(beta2),
                step,
            }
        }

        /// A storage buffer holding these scalars, to bind as the `step` view of [`adamw_update_gpu`].
        pub fn upload(&self, gpu: &GpuContext) -> wgpu::Buffer {
            gpu.upload("adamw step", bytemuck::cast_slice(&[*self]))
        }

        /// Overwrites the buffer made by [`AdamwStep::upload`]; call it before submitting each step.
        pub fn write(&self, gpu: &GpuContext, buffer: &wgpu::Buffer) {
            gpu.queue.write_buffer(buffer, 0, bytemuck::bytes_of(self));
        }
    }

    /// Adds one AdamW step to `plan`, as [`adamw_update_cpu`](super::adamw_update_cpu): params, m, v (N) updated in place from grads (N).
    ///
    /// `lr` and `step` of the CPU function are replaced by `step`, a view of an [`AdamwStep`] buffer that the
    /// trainer rewrites with `queue.write_buffer` every step (see [`AdamwStep`]): the plan is built once, the
    /// schedule changes lr each step. beta1, beta2, eps and weight_decay are fixed in the plan's uniform.
    ///
    /// Weight-decay exclusions mirror the CPU, which is called once per parameter group with weight_decay = 0 for
    /// the groups that are not decayed: push one dispatch per group, with views of that group's range. When the
    /// parameter layout keeps the decayed tensors (matmul weights) in one contiguous range and the rest (biases,
    /// layernorm, embeddings as configured) in another, the whole model is two dispatches. Views start at
    /// multiples of 64 floats (WebGPU's 256-byte binding-offset alignment; see [`View`]).
    #[allow(clippy::too_many_arguments)]
    pub fn adamw_update_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        params: View,
        m: View,
        v: View,
        grads: View,
        step: View,
        norm: View,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        n: usize,
    ) {
        let kernel = gpu.kernel(
            "adamw_update",
            ADAMW_UPDATE_SHADER,
            &[
                Access::Uniform,   // config: N, beta1, beta2, eps, weight_decay
                Access::ReadWrite, // params (N)
                Access::ReadWrite, // m (N)
                Access::ReadWrite, // v (N)
                Access::Read,      // grads (N)
                Access::Read,      // step (4): AdamwStep, rewritten every step
                Access::Read, // norm (2): the step's gradient norm (not finite -> no update), 1 / loss scale
            ],
            &[("WG", f64::from(WG))],
        );
        let uniform = Params {
            n: n as u32,
            beta1,
            beta2,
            eps,
            weight_decay,
            _pad: [0; 3],
        };
        plan.push(
            gpu,
            kernel,
            Some(&uniform),
            &[params, m, v, grads, step, norm],
            flat_workgroups(n, WG),
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::ops::adamw_update::*;

        #[test]
        fn gpu_matches_cpu_over_steps_with_a_changing_lr_and_decay_groups() {
            use crate::gpu::testing::gpu_or_skip;
            use crate::ops::testing::{TestRng, assert_close};
            let Some(gpu) = gpu_or_skip("adamw_update") else {
                return;
            };
            let mut rng = TestRng::new(41);
            // Two groups in one flat buffer: [0, 128) decayed, [128, 128 + 37) not (offset 128 = 512 bytes,
            // a legal binding offset). The plan is built once; lr and step change through the step buffer.
            let (decayed, rest) = (128usize, 37usize);
            let n = decayed + rest;
            let mut params = rng.vec(n);
            let mut m: Vec<f32> = rng.vec(n).iter().map(|x| 0.1 * x).collect();
            let mut v: Vec<f32> = rng.vec(n).iter().map(|x| 0.01 * x.abs()).collect();
            let (beta1, beta2, eps, wd) = (0.9, 0.95, 1e-8, 0.1);
            let params_b = gpu.upload("params", &params);
            let m_b = gpu.upload("m", &m);
            let v_b = gpu.upload("v", &v);
            let grads_b = gpu.zeros("grads", n);
            let step_b = AdamwStep::new(0.0, beta1, beta2, 1).upload(gpu);
            let norm_b = gpu.upload("norm", &[1.0, 1.0]);
            let mut plan = Plan::new();
            for (offset, len, decay) in [(0, decayed, wd), (decayed, rest, 0.0)] {
                let view = |b| View::range(b, offset, len);
                adamw_update_gpu(
                    gpu,
                    &mut plan,
                    view(&params_b),
                    view(&m_b),
                    view(&v_b),
                    view(&grads_b),
                    View::all(&step_b),
                    View::all(&norm_b),
                    beta1,
                    beta2,
                    eps,
                    decay,
                    len,
                );
            }
            assert_eq!(plan.len(), 2);
            for step in 1..=3u32 {
                let lr = 1e-2 / step as f32; // a schedule: lr differs every step
                let grads = rng.vec(n);
                gpu.queue
                    .write_buffer(&grads_b, 0, bytemuck::cast_slice(&grads));
                AdamwStep::new(lr, beta1, beta2, step).write(gpu, &step_b);
                pollster::block_on(plan.run(gpu)).expect("adamw dispatch");
                for (range, decay) in [(0..decayed, wd), (decayed..n, 0.0)] {
                    adamw_update_cpu(
                        &mut params[range.clone()],
                        &mut m[range.clone()],
                        &mut v[range.clone()],
                        &grads[range],
                        lr,
                        beta1,
                        beta2,
                        eps,
                        decay,
                        step,
                    );
                }
                let read = |b| pollster::block_on(gpu.read(b, n)).expect("readback");
                assert_close(
                    &read(&params_b),
                    &params,
                    1e-6,
                    1e-5,
                    &format!("params at step {step}"),
                );
                assert_close(&read(&m_b), &m, 1e-7, 1e-5, &format!("m at step {step}"));
                assert_close(&read(&v_b), &v, 1e-8, 1e-5, &format!("v at step {step}"));
            }
        }

        #[test]
        fn gpu_skips_the_step_when_the_gradient_norm_is_not_finite() {
            use crate::gpu::testing::gpu_or_skip;
            use crate::ops::testing::TestRng;
            let Some(gpu) = gpu_or_skip("adamw_update non-finite norm") else {
                return;
            };
            let mut rng = TestRng::new(5);
            let n = 70;
            let params = rng.vec(n);
            let params_b = gpu.upload("params", &params);
            let m_b = gpu.zeros("m", n);
            let v_b = gpu.zeros("v", n);
            let grads_b = gpu.upload("grads", &vec![f32::NAN; n]);
            let step_b = AdamwStep::new(1e-2, 0.9, 0.95, 1).upload(gpu);
            for bad_norm in [f32::NAN, f32::INFINITY] {
                let norm_b = gpu.upload("norm", &[bad_norm, 1.0]);
                let mut plan = Plan::new();
                let all = |b| View::all(b);
                adamw_update_gpu(
                    gpu,
                    &mut plan,
                    all(&params_b),
                    all(&m_b),
                    all(&v_b),
                    all(&grads_b),
                    all(&step_b),
                    all(&norm_b),
                    0.9,
                    0.95,
                    1e-8,
                    0.1,
                    n,
                );
                pollster::block_on(plan.run(gpu)).expect("adamw dispatch");
                let read = |b| pollster::block_on(gpu.read(b, n)).expect("readback");
                assert_eq!(read(&params_b), params, "norm {bad_norm}: params untouched");
                assert_eq!(read(&m_b), vec![0.0; n], "norm {bad_norm}: m untouched");
            }
        }
    }
}
