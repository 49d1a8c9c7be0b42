//! encoder_forward: token embedding plus positional information, the input of the first block.
//!
//! Intuition: each position starts as the vector of its token, plus a vector saying where it is.
//! The position table is either learned (nanoGPT's `wpe`, a parameter), fixed sinusoids
//! ([`sinusoidal_table`], not a parameter), or absent when the model uses rotary positions inside
//! attention instead (see `rope_forward`).

use super::float::Float;

/// out (B, T, C) = wte[inp[b, t]] (V, C) + pos[t] (T, C) when a position table is given.
/// `inp` (B, T) holds token ids, each below V (the model checks this before calling).
#[allow(clippy::too_many_arguments)]
pub fn encoder_forward_cpu<R: Float>(
    out: &mut [R],
    inp: &[u32],
    wte: &[R],
    pos: Option<&[R]>,
    b: usize,
    t: usize,
    c: usize,
) {
    for bt in 0..b * t {
        let token = inp[bt] as usize;
        let out_bt = &mut out[bt * c..(bt + 1) * c];
        out_bt.copy_from_slice(&wte[token * c..(token + 1) * c]);
        if let Some(pos) = pos {
            let pos_t = &pos[(bt % t) * c..(bt % t + 1) * c];
            for (o, &p) in out_bt.iter_mut().zip(pos_t) {
                *o += p;
            }
        }
    }
}

/// The fixed sinusoidal position table (Vaswani et al. 2017), out (T, C):
/// PE(pos, 2i) = sin(pos / 10000^(2i/C)), PE(pos, 2i+1) = cos(pos / 10000^(2i/C)).
/// Computed in f64 and rounded, so f32 and f64 models see the same table up to rounding.
/// `pos0` offsets the positions (generation with a KV cache asks for rows pos0..pos0+T).
pub fn sinusoidal_table<R: Float>(out: &mut [R], pos0: usize, t: usize, c: usize) {
    for p in 0..t {
        for i in 0..c {
            let pair = (i / 2) * 2;
            let angle = (pos0 + p) as f64 / 10000f64.powf(pair as f64 / c as f64);
            let value = if i % 2 == 0 { angle.sin() } else { angle.cos() };
            out[p * c + i] = R::from_f64(value);
        }
    }
}

#[cfg(feature = "gpu")]
pub use gpu::*;

// The WGSL kernels' dispatch and the GPU-against-CPU tests (feature "gpu").
#[cfg(feature = "gpu")]
mod gpu {
    use crate::gpu::{Access, GpuContext, Plan, View};

    /// The WGSL source, `shaders/encoder_forward.wgsl`.
    pub const ENCODER_FORWARD_SHADER: &str = shader!("encoder_forward");

    /// Its f16 build (out, wte and pos f16), generated from the same file by `crate/build.rs`.
    pub const ENCODER_FORWARD_F16_SHADER: &str = shader!("encoder_forward_f16");

    /// Sizes for the shader; field for field the WGSL `Params` struct.
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        b: u32,
        t: u32,
        c: u32,
        has_pos: u32,
        v0: u32,
        vn: u32,
        pad: [u32; 2],
    }

    /// Invocations per workgroup (the `WG` override of the shader).
    const WG: u32 = 64;

    /// Adds the kernel to `plan`: out (B, T, C) = wte[inp[b, t]] (V, C) + pos[t] (T, C).
    /// `inp` views a buffer of u32 token ids (`GpuContext::upload_u32`); `pos` is the learned table, the
    /// sinusoidal one ([`sinusoidal_table`](super::sinusoidal_table) uploaded), or `None` for rotary positions.
    #[allow(clippy::too_many_arguments)]
    pub fn encoder_forward_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        inp: View,
        wte: View,
        pos: Option<View>,
        b: usize,
        t: usize,
        c: usize,
    ) {
        encoder_forward_rows_gpu(gpu, plan, out, inp, wte, None, pos, b, t, c);
    }

    /// The same with `wte` holding only the rows `v0..v0 + wte.len / C` of the embedding (`rows: Some(v0)`): the
    /// positions whose token is there are written, the others left as they are. One call per chunk covers a
    /// table too large for one storage binding.
    #[allow(clippy::too_many_arguments)]
    pub fn encoder_forward_rows_gpu(
        gpu: &GpuContext,
        plan: &mut Plan,
        out: View,
        inp: View,
        wte: View,
        rows: Option<usize>,
        pos: Option<View>,
        b: usize,
        t: usize,
        c: usize,
    ) {
        let kernel = gpu.kernel_variant(
            &out,
            ("encoder_forward", ENCODER_FORWARD_SHADER),
            ("encoder_forward_f16", ENCODER_FORWARD_F16_SHADER),
            &[
                Access::Uniform,   // params: B, T, C, has_pos
                Access::ReadWrite, // out (B, T, C)
                Access::Read,      // inp (B, T) u32 token ids
                Access::Read,      // wte (V, C)
                Access::Read,      // pos (T, C) or the placeholder
            ],
            &[("WG", f64::from(WG))],
        );
        let params = Params {
            b: b as u32,
            t: t as u32,
            c: c as u32,
            has_pos: u32::from(pos.is_some()),
            v0: rows.unwrap_or(0) as u32,
            vn: rows.map_or(u32::MAX, |_| (wte.len as usize / c.max(1)) as u32),
            pad: [0; 2],
        };
        let pos = pos.unwrap_or(View::all(gpu.placeholder()));
        let workgroups = gpu.grid_1d(((b * t * c) as u32).div_ceil(WG));
        plan.push(
            gpu,
            kernel,
            Some(&params),
            &[out, inp, wte, pos],
            workgroups,
        );
    }

    #[cfg(all(test, not(target_arch = "wasm32")))]
    mod tests {
        use super::*;
        use crate::gpu::testing::gpu_or_skip;
        use crate::ops::encoder_forward::*;
        use crate::ops::testing::{TestRng, assert_close};

        /// Which position table a check uses.
        #[derive(Clone, Copy, Debug)]
        enum Pos {
            Learned,
            Sinusoidal,
            Rotary,
        }

        fn check(
            gpu: &GpuContext,
            rng: &mut TestRng,
            b: usize,
            t: usize,
            c: usize,
            v: usize,
            pos: Pos,
        ) {
            let inp: Vec<u32> = (0..b * t)
                .map(|_| (rng.next_u64() % v as u64) as u32)
                .collect();
            let wte = rng.vec(v * c);
            let table = match pos {
                Pos::Learned => Some(rng.vec(t * c)),
                Pos::Sinusoidal => {
                    let mut table = vec![0.0f32; t * c];
                    sinusoidal_table(&mut table, 0, t, c);
                    Some(table)
                }
                Pos::Rotary => None,
            };
            let mut expected = vec![0.0; b * t * c];
            encoder_forward_cpu(&mut expected, &inp, &wte, table.as_deref(), b, t, c);

            let out = gpu.upload("out", &vec![f32::NAN; b * t * c]);
            let inp = gpu.upload_u32("inp", &inp);
            let wte = gpu.upload("wte", &wte);
            let table = table.map(|table| gpu.upload("pos", &table));
            let mut plan = Plan::new();
            encoder_forward_gpu(
                gpu,
                &mut plan,
                (&out).into(),
                (&inp).into(),
                (&wte).into(),
                table.as_ref().map(View::all),
                b,
                t,
                c,
            );
            pollster::block_on(plan.run(gpu)).expect("encoder_forward dispatch");
            let actual = pollster::block_on(gpu.read(&out, b * t * c)).expect("readback");
            // A copy and at most one f32 addition: identical results.
            assert_close(
                &actual,
                &expected,
                0.0,
                0.0,
                &format!("encoder_forward B={b} T={t} C={c} V={v} {pos:?}"),
            );
        }

        /// The f16 build against the CPU reference evaluated with f16 rounding (wte and pos rounded to f16, out
        /// rounded): one addition in f32 rounded once, so the results are identical.
        #[test]
        fn f16_matches_cpu_with_f16_rounding() {
            use crate::gpu::testing::{
                gpu_f16_or_skip, read_f16_now, round_f16, upload_f16_rounded,
            };
            let Some(gpu) = gpu_f16_or_skip("encoder_forward f16") else {
                return;
            };
            let mut rng = TestRng::new(103);
            for (b, t, c, v, learned) in [
                (2, 7, 12, 37, true),
                (2, 7, 12, 37, false),
                (1, 3, 5, 7, true),
            ] {
                let inp = rng.tokens(b * t, v);
                let (wte_buf, wte) = upload_f16_rounded(gpu, "wte", &rng.vec(v * c));
                let pos = learned.then(|| upload_f16_rounded(gpu, "pos", &rng.vec(t * c)));
                let mut expected = vec![0.0; b * t * c];
                encoder_forward_cpu(
                    &mut expected,
                    &inp,
                    &wte,
                    pos.as_ref().map(|p| &p.1[..]),
                    b,
                    t,
                    c,
                );
                let out = gpu.zeros_f16("out", b * t * c);
                let inp_buf = gpu.upload_u32("inp", &inp);
                let mut plan = Plan::new();
                encoder_forward_gpu(
                    gpu,
                    &mut plan,
                    View::all_f16(&out),
                    (&inp_buf).into(),
                    View::all_f16(&wte_buf),
                    pos.as_ref().map(|p| View::all_f16(&p.0)),
                    b,
                    t,
                    c,
                );
                pollster::block_on(plan.run(gpu)).expect("encoder_forward_f16 dispatch");
                let actual = read_f16_now(gpu, &out, b * t * c);
                let what = format!("encoder_forward f16 B={b} T={t} C={c} learned={learned}");
                assert_close(&actual, &round_f16(&expected), 0.0, 0.0, &what);
            }
        }

        #[test]
        fn gpu_matches_cpu_on_awkward_shapes() {
            let Some(gpu) = gpu_or_skip("encoder_forward awkward shapes") else {
                return;
            };
            let mut rng = TestRng::new(101);
            for pos in [Pos::Learned, Pos::Sinusoidal, Pos::Rotary] {
                check(gpu, &mut rng, 2, 7, 12, 37, pos);
            }
            check(gpu, &mut rng, 1, 1, 1, 1, Pos::Learned);
        }

        /// wte bound in chunks of rows (as for a table over the binding limit): the same out as bound whole.
        #[test]
        fn gpu_matches_cpu_with_the_table_in_chunks() {
            let Some(gpu) = gpu_or_skip("encoder_forward in chunks") else {
                return;
            };
            let mut rng = TestRng::new(103);
            let (b, t, c, v) = (2, 7, 12, 37);
            let inp: Vec<u32> = (0..b * t)
                .map(|_| (rng.next_u64() % v as u64) as u32)
                .collect();
            let (wte, table) = (rng.vec(v * c), rng.vec(t * c));
            let mut expected = vec![0.0; b * t * c];
            encoder_forward_cpu(&mut expected, &inp, &wte, Some(&table), b, t, c);
            let out = gpu.upload("out", &vec![f32::NAN; b * t * c]);
            let inp = gpu.upload_u32("inp", &inp);
            let table = gpu.upload("pos", &table);
            // Chunks of 16, 16 and 5 rows, each in a buffer of its own.
            let chunks: Vec<(usize, wgpu::Buffer)> = (0..v)
                .step_by(16)
                .map(|v0| {
                    (
                        v0,
                        gpu.upload("wte rows", &wte[v0 * c..(v0 + 16).min(v) * c]),
                    )
                })
                .collect();
            let mut plan = Plan::new();
            for (v0, rows) in &chunks {
                encoder_forward_rows_gpu(
                    gpu,
                    &mut plan,
                    (&out).into(),
                    (&inp).into(),
                    rows.into(),
                    Some(*v0),
                    Some(View::all(&table)),
                    b,
                    t,
                    c,
                );
            }
            pollster::block_on(plan.run(gpu)).expect("encoder_forward dispatch");
            let actual = pollster::block_on(gpu.read(&out, b * t * c)).expect("readback");
            assert_close(&actual, &expected, 0.0, 0.0, "encoder_forward in 3 chunks");
        }

        #[test]
        fn gpu_matches_cpu_on_random_shapes() {
            let Some(gpu) = gpu_or_skip("encoder_forward random shapes") else {
                return;
            };
            let mut rng = TestRng::new(102);
            for k in 0..9 {
                let (b, t, c, v) = (
                    rng.range(1, 4),
                    rng.range(1, 128),
                    rng.range(1, 128),
                    rng.range(1, 128),
                );
                let pos = [Pos::Learned, Pos::Sinusoidal, Pos::Rotary][k % 3];
                check(gpu, &mut rng, b, t, c, v, pos);
            }
        }
    }
}
