//! Times the GPU matmul_forward kernels (readable vs tiled) at square sizes and at the model's shapes.
//!
//! cargo run --release --example matmul_bench [-- --large]
//!
//! Prints the adapter's name and GFLOP/s (2*N*C*OC flops per matmul) for each kernel. Each kernel is first
//! checked against the CPU matmul (sizes <= 512), then timed over repeated dispatches in one submit.
//! On a software adapter (lavapipe, SwiftShader) square sizes stop at 512 unless `--large` is given.

// Native only (it times with std::time::Instant and blocks on the GPU); on wasm32 it builds to nothing.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::Instant;

    use transformer_playground::gpu::{GpuContext, Plan, View};
    use transformer_playground::ops::matmul_forward::{
        matmul_forward_fast_cpu, matmul_forward_gpu, matmul_forward_tiled_gpu,
    };

    type Record = fn(&GpuContext, &mut Plan, View, View, View, Option<View>, usize, usize, usize);

    /// Seconds per matmul of one kernel at (N, C, OC), after checking its output against the CPU.
    fn time_kernel(
        gpu: &GpuContext,
        record: Record,
        n: usize,
        c: usize,
        oc: usize,
    ) -> Result<f64, String> {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut random = |len: usize| -> Vec<f32> {
            (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed >> 40) as f32 / (1u64 << 23) as f32 - 1.0
                })
                .collect()
        };
        let (inp, weight, bias) = (random(n * c), random(oc * c), random(oc));
        let inp_b = gpu.upload("inp", &inp);
        let weight_b = gpu.upload("weight", &weight);
        let bias_b = gpu.upload("bias", &bias);
        let out_b = gpu.zeros("out", n * oc);
        let mut plan = Plan::new();
        record(
            gpu,
            &mut plan,
            (&out_b).into(),
            (&inp_b).into(),
            (&weight_b).into(),
            Some((&bias_b).into()),
            n,
            c,
            oc,
        );
        pollster::block_on(plan.run(gpu)).map_err(|e| e.to_string())?;
        if n.max(c).max(oc) <= 512 {
            let actual = pollster::block_on(gpu.read(&out_b, n * oc)).map_err(|e| e.to_string())?;
            let mut expected = vec![0.0; n * oc];
            matmul_forward_fast_cpu(&mut expected, &inp, &weight, Some(&bias), n, c, oc);
            let worst = actual
                .iter()
                .zip(&expected)
                .map(|(a, e)| (a - e).abs() / (1.0 + e.abs()))
                .fold(0.0f32, f32::max);
            if worst.is_nan() || worst > 1e-4 {
                return Err(format!("wrong result (relative error {worst})"));
            }
        }
        let run = |repeats: usize| -> Result<f64, String> {
            let start = Instant::now();
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            for _ in 0..repeats {
                plan.encode(&mut encoder);
            }
            gpu.queue.submit([encoder.finish()]);
            gpu.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| e.to_string())?;
            Ok(start.elapsed().as_secs_f64())
        };
        let once = run(1)?;
        // About half a second of work per measurement, between 1 and 200 dispatches.
        let repeats = ((0.5 / once) as usize).clamp(1, 200);
        Ok(run(repeats)? / repeats as f64)
    }

    pub fn main() {
        let large = std::env::args().any(|a| a == "--large");
        let gpu = match pollster::block_on(GpuContext::new()) {
            Ok(gpu) => gpu,
            Err(e) => {
                eprintln!("no GPU adapter: {e}");
                std::process::exit(1);
            }
        };
        let s = &gpu.summary;
        println!(
            "adapter: {} ({}, {}, {}{})",
            s.name,
            s.backend,
            s.device_type,
            s.driver,
            if s.is_fallback { ", software" } else { "" }
        );
        let max_square = if s.is_fallback && !large { 512 } else { 2048 };
        let mut shapes: Vec<(String, usize, usize, usize)> = [256, 512, 1024, 2048]
            .into_iter()
            .filter(|&size| size <= max_square)
            .map(|size| (format!("square {size}"), size, size, size))
            .collect();
        // The model's linear layers at B=16, T=64, C=128, vocab 65 (N = B*T rows).
        for (name, c, oc) in [
            ("model qkv", 128, 384),
            ("model attn proj", 128, 128),
            ("model fc", 128, 512),
            ("model fc proj", 512, 128),
            ("model lm head", 128, 65),
        ] {
            shapes.push((format!("{name} (N=1024, C={c}, OC={oc})"), 1024, c, oc));
        }
        if s.is_fallback && !large {
            println!("(software adapter: squares up to 512; pass --large for 1024 and 2048)");
        }
        println!(
            "| shape | N x C x OC | readable GFLOP/s | tiled GFLOP/s | speedup |\n|---|---|---|---|---|"
        );
        for (name, n, c, oc) in shapes {
            let flops = 2.0 * (n * c * oc) as f64;
            let readable = time_kernel(&gpu, matmul_forward_gpu, n, c, oc);
            let tiled = time_kernel(&gpu, matmul_forward_tiled_gpu, n, c, oc);
            let show = |t: &Result<f64, String>| match t {
                Ok(t) => format!("{:.2}", flops / t / 1e9),
                Err(e) => format!("error: {e}"),
            };
            let speedup = match (&readable, &tiled) {
                (Ok(r), Ok(t)) => format!("{:.1}x", r / t),
                _ => "-".into(),
            };
            println!(
                "| {name} | {n} x {c} x {oc} | {} | {} | {speedup} |",
                show(&readable),
                show(&tiled)
            );
        }
    }
}
