//! encoder_backward: scatters each position's gradient back to its token's row and its position's row.
//!
//! Intuition: a token row collects the gradient of every position where that token appears.
//! Parameter gradients accumulate (`+=`); with a tied LM head `dwte` also receives the head's gradient.

use super::float::Float;

/// dwte (V, C) += dout[b, t] at row inp[b, t];  dpos (T, C) += sum over b of dout[b, t] (learned positions).
#[allow(clippy::too_many_arguments)]
pub fn encoder_backward_cpu<R: Float>(
    dwte: &mut [R],
    dpos: Option<&mut [R]>,
    dout: &[R],
    inp: &[u32],
    b: usize,
    t: usize,
    c: usize,
) {
    for bt in 0..b * t {
        let token = inp[bt] as usize;
        let dout_bt = &dout[bt * c..(bt + 1) * c];
        for (d, &g) in dwte[token * c..(token + 1) * c].iter_mut().zip(dout_bt) {
            *d += g;
        }
    }
    if let Some(dpos) = dpos {
        for bt in 0..b * t {
            let dout_bt = &dout[bt * c..(bt + 1) * c];
            for (d, &g) in dpos[(bt % t) * c..(bt % t + 1) * c].iter_mut().zip(dout_bt) {
                *d += g;
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::encoder_forward::{encoder_forward_cpu, sinusoidal_table};
    use crate::ops::gradcheck::{check_gradient, dot};
    use crate::ops::testing::TestRng;

    #[test]
    fn gradients_match_finite_differences() {
        let (b, t, c, v) = (2, 7, 12, 37);
        let mut rng = TestRng::new(21);
        let inp = rng.tokens(b * t, v);
        let (wte, wpe, w) = (
            rng.vec_f64(v * c),
            rng.vec_f64(t * c),
            rng.vec_f64(b * t * c),
        );
        let loss = |wte: &[f64], wpe: &[f64]| {
            let mut out = vec![0.0; b * t * c];
            encoder_forward_cpu(&mut out, &inp, wte, Some(wpe), b, t, c);
            dot(&out, &w)
        };
        let mut dwte = vec![0.0; v * c];
        let mut dwpe = vec![0.0; t * c];
        encoder_backward_cpu(&mut dwte, Some(&mut dwpe), &w, &inp, b, t, c);
        check_gradient("encoder dwte", &wte, &dwte, |x| loss(x, &wpe));
        check_gradient("encoder dwpe", &wpe, &dwpe, |x| loss(&wte, x));
    }

    #[test]
    fn sinusoidal_table_has_the_textbook_values() {
        let (t, c) = (7, 12);
        let mut table = vec![0.0f64; t * c];
        sinusoidal_table(&mut table, 0, t, c);
        // Position 0: sin(0) = 0, cos(0) = 1 in every pair.
        for (i, &x) in table[..c].iter().enumerate() {
            assert_eq!(x, if i % 2 == 0 { 0.0 } else { 1.0 });
        }
        // Position 3, pair i = 2 (columns 4 and 5): angle 3 / 10000^(4/12).
        let angle = 3.0 / 10000f64.powf(4.0 / 12.0);
        assert_eq!(table[3 * c + 4], angle.sin());
        assert_eq!(table[3 * c + 5], angle.cos());
        // An offset table is the tail of the full one.
        let mut tail = vec![0.0f64; 2 * c];
        sinusoidal_table(&mut tail, 5, 2, c);
        assert_eq!(&tail[..], &table[5 * c..]);
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL sources: `shaders/encoder_backward.wgsl` (token rows) and `shaders/encoder_backward_dpos.wgsl`
    /// (position rows).
    pub const ENCODER_BACKWARD_SHADER: &str = shader!("encoder_backward");

    /// Its f16 build (dout f16; dwte, a parameter gradient, f32), generated from the same file by `crate/build.rs`.
    pub const ENCODER_BACKWARD_F16_SHADER: &str = shader!("encoder_backward_f16");

    pub const ENCODER_BACKWARD_DPOS_SHADER: &str = shader!("encoder_backward_dpos");

    /// Its f16 build (dout f16; dpos f32), generated from the same file by `crate/build.rs`.
    pub const ENCODER_BACKWARD_DPOS_F16_SHADER: &str = shader!("encoder_backward_dpos_f16");

    /// Sizes for the shaders; field for field their WGSL `Params` structs (`groups` unused by dpos).
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        b: u32,
        t: u32,
        c: u32,
        groups: u32,
    }

    /// Invocations per workgroup (the `WG` override of both shaders).
    const WG: u32 = 64;

    /// Most token groups the dwte kernel splits the vocabulary into (see the shader): more groups, more
    /// parallelism, but every group reads all B*T token ids.
    const MAX_TOKEN_GROUPS: u32 = 16;

    /// Adds the kernels to `plan`: dwte (V, C) += dout (B, T, C) at rows inp (B, T);
    /// dpos (T, C) += sum over b of dout (when the positions are learned). Both race-free and in the CPU's
    /// order of additions (see the shaders), so the results equal the CPU's.
    #[allow(clippy::too_many_arguments)]
    pub fn encoder_backward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        dwte: View,
        dpos: Option<View>,
        dout: View,
        inp: View,
        b: usize,
        t: usize,
        c: usize,
    ) {
        let vocab = if c == 0 { 1 } else { dwte.len / c as u64 };
        let groups = (vocab.clamp(1, u64::from(MAX_TOKEN_GROUPS))) as u32;
        let params = Params {
            b: b as u32,
            t: t as u32,
            c: c as u32,
            groups,
        };
        let kernel = gpu.kernel_variant(
            &dout,
            ("encoder_backward", ENCODER_BACKWARD_SHADER),
            ("encoder_backward_f16", ENCODER_BACKWARD_F16_SHADER),
            &[
                Access::Uniform,   // params: B, T, C, groups
                Access::ReadWrite, // dwte (V, C), accumulated
                Access::Read,      // dout (B, T, C)
                Access::Read,      // inp (B, T) u32 token ids
            ],
            &[("WG", f64::from(WG))],
        );
        // x: blocks of WG channels; y: token groups.
        let workgroups = [(c as u32).div_ceil(WG), groups, 1];
        plan.push(gpu, kernel, Some(&params), &[dwte, dout, inp], workgroups);

        if let Some(dpos) = dpos {
            let kernel = gpu.kernel_variant(
                &dout,
                ("encoder_backward_dpos", ENCODER_BACKWARD_DPOS_SHADER),
                (
                    "encoder_backward_dpos_f16",
                    ENCODER_BACKWARD_DPOS_F16_SHADER,
                ),
                &[
                    Access::Uniform,   // params: B, T, C
                    Access::ReadWrite, // dpos (T, C), accumulated
                    Access::Read,      // dout (B, T, C)
                ],
                &[("WG", f64::from(WG))],
            );
            let workgroups = gpu.grid_1d(((t * c) as u32).div_ceil(WG));
            plan.push(gpu, kernel, Some(&params), &[dpos, dout], workgroups);
        }
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::encoder_backward::*;
        use crate::ops::testing::{TestRng, assert_close};

        #[allow(clippy::too_many_arguments)]
        fn check(
            gpu: &GpuContext,
            rng: &mut TestRng,
            b: usize,
            t: usize,
            c: usize,
            v: usize,
            learned_pos: bool,
        ) {
            let inp: Vec<u32> = (0..b * t)
                .map(|_| (rng.next_u64() % v as u64) as u32)
                .collect();
            let dout = rng.vec(b * t * c);
            // Both gradients accumulate: start them at nonzero random values.
            let mut dwte = rng.vec(v * c);
            let mut dpos = learned_pos.then(|| rng.vec(t * c));
            let dwte_buf = gpu.upload("dwte", &dwte);
            let dpos_buf = dpos.as_ref().map(|d| gpu.upload("dpos", d));
            let dout_buf = gpu.upload("dout", &dout);
            let inp_buf = gpu.upload_u32("inp", &inp);
            encoder_backward_cpu(&mut dwte, dpos.as_deref_mut(), &dout, &inp, b, t, c);

            let mut plan = Plan::new();
            encoder_backward_gpu(
                gpu,
                &mut plan,
                (&dwte_buf).into(),
                dpos_buf.as_ref().map(View::all),
                (&dout_buf).into(),
                (&inp_buf).into(),
                b,
                t,
                c,
            );
            pollster::block_on(plan.run(gpu)).expect("encoder_backward dispatch");
            let what = format!("encoder_backward B={b} T={t} C={c} V={v}");
            // The same additions in the same order as the CPU (see the shaders): identical results.
            let actual = pollster::block_on(gpu.read(&dwte_buf, v * c)).expect("readback");
            assert_close(&actual, &dwte, 0.0, 0.0, &format!("{what}: dwte"));
            if let (Some(buf), Some(dpos)) = (&dpos_buf, &dpos) {
                let actual = pollster::block_on(gpu.read(buf, t * c)).expect("readback");
                assert_close(&actual, dpos, 0.0, 0.0, &format!("{what}: dpos"));
            }
        }

        /// The f16 build (dout f16; dwte and dpos, parameter gradients, f32) against the CPU reference given the
        /// same f16-rounded dout: f32 additions in the CPU's order, so the results are identical.
        #[test]
        fn f16_matches_cpu_with_f16_rounding() {
            use crate::gpu::testing::{gpu_f16_or_skip, upload_f16_rounded};
            let Some(gpu) = gpu_f16_or_skip("encoder_backward f16") else {
                return;
            };
            let mut rng = TestRng::new(113);
            for (b, t, c, v) in [(2, 7, 12, 37), (1, 3, 5, 2)] {
                let inp = rng.tokens(b * t, v);
                let (dout_buf, dout) = upload_f16_rounded(gpu, "dout", &rng.vec(b * t * c));
                let (mut dwte, mut dpos) = (rng.vec(v * c), rng.vec(t * c));
                let (dwte_buf, dpos_buf) = (gpu.upload("dwte", &dwte), gpu.upload("dpos", &dpos));
                encoder_backward_cpu(&mut dwte, Some(&mut dpos), &dout, &inp, b, t, c);
                let inp_buf = gpu.upload_u32("inp", &inp);
                let mut plan = Plan::new();
                encoder_backward_gpu(
                    gpu,
                    &mut plan,
                    (&dwte_buf).into(),
                    Some((&dpos_buf).into()),
                    View::all_f16(&dout_buf),
                    (&inp_buf).into(),
                    b,
                    t,
                    c,
                );
                pollster::block_on(plan.run(gpu)).expect("encoder_backward_f16 dispatch");
                let read = |buf, len| pollster::block_on(gpu.read(buf, len)).expect("readback");
                let what = format!("encoder_backward f16 B={b} T={t} C={c} V={v}");
                assert_close(
                    &read(&dwte_buf, v * c),
                    &dwte,
                    0.0,
                    0.0,
                    &format!("{what} dwte"),
                );
                assert_close(
                    &read(&dpos_buf, t * c),
                    &dpos,
                    0.0,
                    0.0,
                    &format!("{what} dpos"),
                );
            }
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("encoder_backward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(111);
            check(gpu, &mut rng, 2, 7, 12, 37, true);
            check(gpu, &mut rng, 2, 7, 12, 37, false);
            // A vocabulary of 3: every token repeats many times, the case where a naive kernel races.
            check(gpu, &mut rng, 4, 50, 12, 3, true);
            check(gpu, &mut rng, 1, 1, 1, 1, true);
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("encoder_backward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(112);
            for k in 0..8 {
                let (b, t, c, v) = (
                    rng.range(1, 4),
                    rng.range(1, 128),
                    rng.range(1, 128),
                    rng.range(1, 128),
                );
                check(gpu, &mut rng, b, t, c, v, k % 2 == 0);
            }
        }
    }
}
