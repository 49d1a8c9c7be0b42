//! rope_forward: rotary position embedding (RoFormer, Su et al. 2021) applied to the queries and keys.
//!
//! Intuition: each pair of channels of a query or key is rotated by an angle proportional to its position,
//! so the score q.k depends on how far apart the two positions are, not where they are.
//!
//! Convention (written down because implementations differ): within each head of size hs, channels
//! (2i, 2i+1) form pair i (the interleaved, RoFormer/GPT-J layout, not GPT-NeoX's split halves), rotated by
//! angle (pos0 + t) * 10000^(-2i/hs). The values (third C of qkv) pass through unchanged.

use super::float::Float;

/// The base of the rotation frequencies.
pub const ROPE_BASE: f64 = 10000.0;

/// cos and sin tables (T, hs/2) for positions pos0..pos0+T, computed in f64.
pub(crate) fn rope_tables<R: Float>(pos0: usize, t: usize, hs: usize) -> (Vec<R>, Vec<R>) {
    let half = hs / 2;
    let mut cos = Vec::with_capacity(t * half);
    let mut sin = Vec::with_capacity(t * half);
    for p in 0..t {
        for i in 0..half {
            let angle = (pos0 + p) as f64 * ROPE_BASE.powf(-2.0 * i as f64 / hs as f64);
            cos.push(R::from_f64(angle.cos()));
            sin.push(R::from_f64(angle.sin()));
        }
    }
    (cos, sin)
}

/// out (B, T, 3C) = inp (B, T, 3C) with q and k of every head rotated; hs = C / NH must be even.
#[allow(clippy::too_many_arguments)]
pub fn rope_forward_cpu<R: Float>(
    out: &mut [R],
    inp: &[R],
    pos0: usize,
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    let hs = c / nh;
    let (cos, sin) = rope_tables::<R>(pos0, t, hs);
    out[..b * t * 3 * c].copy_from_slice(&inp[..b * t * 3 * c]);
    for bt in 0..b * t {
        let tt = bt % t;
        // q is qkv[0..C], k is qkv[C..2C]: rotate both, head by head, pair by pair.
        for part in 0..2 {
            for h in 0..nh {
                let base = bt * 3 * c + part * c + h * hs;
                for i in 0..hs / 2 {
                    let (co, si) = (cos[tt * (hs / 2) + i], sin[tt * (hs / 2) + i]);
                    let (x0, x1) = (inp[base + 2 * i], inp[base + 2 * i + 1]);
                    out[base + 2 * i] = x0 * co - x1 * si;
                    out[base + 2 * i + 1] = x0 * si + x1 * co;
                }
            }
        }
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use super::*;
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/rope_forward.wgsl`.
    pub const ROPE_FORWARD_SHADER: &str = shader!("rope_forward");

    /// Sizes for the shader; field for field the WGSL `Params` struct.
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        b: u32,
        t: u32,
        c: u32,
        nh: u32,
    }

    /// Invocations per workgroup (the `WG` override of the shader).
    const WG: u32 = 64;

    /// Adds the kernel to `plan`: out (B, T, 3C) = inp (B, T, 3C) with q and k rotated.
    ///
    /// The (cos, sin) table (T, hs/2, 2) for positions pos0..pos0+T is computed here on the CPU in f64, the
    /// CPU reference's table, and uploaded once while the plan is recorded; the plan's bind group keeps the
    /// buffer alive (wgpu reference-counts bound buffers natively; on the web the GPUBindGroup holds it).
    #[allow(clippy::too_many_arguments)]
    pub fn rope_forward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        inp: View,
        pos0: usize,
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
    ) {
        let kernel = ("rope_forward", ROPE_FORWARD_SHADER);
        record_rope(gpu, plan, kernel, out, inp, pos0, b, t, c, nh);
    }

    /// Records a rotation kernel (`rope_forward` or `rope_backward`, which share bindings, sizes and the
    /// (cos, sin) table): out (B, T, 3C) from inp (B, T, 3C), one invocation per rotated pair.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_rope(
        gpu: &GpuContext,
        plan: &mut Plan,
        (name, shader): (&'static str, &'static str),
        out: View,
        inp: View,
        pos0: usize,
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
    ) {
        let hs = c / nh.max(1);
        let (cos, sin) = rope_tables::<f32>(pos0, t, hs);
        let table: Vec<f32> = cos
            .iter()
            .zip(&sin)
            .flat_map(|(&co, &si)| [co, si])
            .collect();
        let table = gpu.upload("rope_table", &table);
        let kernel = gpu.kernel(
            name,
            shader,
            &[
                Access::Uniform,   // params: B, T, C, NH
                Access::ReadWrite, // out (B, T, 3C)
                Access::Read,      // inp (B, T, 3C)
                Access::Read,      // table (T, hs/2, 2): cos, sin
            ],
            &[("WG", f64::from(WG))],
        );
        let params = Params {
            b: b as u32,
            t: t as u32,
            c: c as u32,
            nh: nh as u32,
        };
        let pairs = (b * t * 3 * c / 2) as u32;
        let workgroups = gpu.grid_1d(pairs.div_ceil(WG));
        plan.push(
            gpu,
            kernel,
            Some(&params),
            &[out, inp, View::all(&table)],
            workgroups,
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::testing::{TestRng, assert_close};

        #[allow(clippy::too_many_arguments)]
        fn check(
            gpu: &GpuContext,
            rng: &mut TestRng,
            pos0: usize,
            b: usize,
            t: usize,
            c: usize,
            nh: usize,
        ) {
            let n = b * t * 3 * c;
            let inp = rng.vec(n);
            let mut expected = vec![0.0; n];
            rope_forward_cpu(&mut expected, &inp, pos0, b, t, c, nh);
            let out = gpu.upload("out", &vec![f32::NAN; n]);
            let inp = gpu.upload("inp", &inp);
            let mut plan = Plan::new();
            rope_forward_gpu(
                gpu,
                &mut plan,
                (&out).into(),
                (&inp).into(),
                pos0,
                b,
                t,
                c,
                nh,
            );
            // The table buffer made inside rope_forward_gpu is gone from Rust by now: the plan must still run.
            pollster::block_on(plan.run(gpu)).expect("rope_forward dispatch");
            let actual = pollster::block_on(gpu.read(&out, n)).expect("readback");
            // The same f32 table as the CPU; the GPU may fuse x0*co - x1*si into one FMA (1 ulp).
            assert_close(
                &actual,
                &expected,
                1e-5,
                1e-4,
                &format!("rope_forward pos0={pos0} B={b} T={t} C={c} NH={nh}"),
            );
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("rope_forward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(141);
            check(gpu, &mut rng, 0, 2, 7, 12, 3); // hs = 4
            check(gpu, &mut rng, 3, 2, 7, 12, 3); // generation with a cache: positions 3..10
            check(gpu, &mut rng, 0, 1, 1, 2, 1); // one pair
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("rope_forward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(142);
            for _ in 0..8 {
                let (nh, half) = (rng.range(1, 4), rng.range(1, 16));
                let c = nh * 2 * half;
                // Large pos0 too: the table is the CPU's f64 one, so far positions stay exact.
                let pos0 = [0, rng.range(1, 2000)][rng.range(0, 1)];
                let (b, t) = (rng.range(1, 4), rng.range(1, 64));
                check(gpu, &mut rng, pos0, b, t, c, nh);
            }
        }
    }
}
