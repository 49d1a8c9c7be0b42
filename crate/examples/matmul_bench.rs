//! Times the GPU forward matmul kernels at square sizes and at the linear layers of both model configs.
//!
//! cargo run --release --example matmul_bench [-- --large] [--peak-gflops N] [--tilings] [--runs N]
//!
//! Prints the adapter and one markdown table: GFLOP/s (2*N*C*OC flops per matmul) of the readable kernel, the
//! tiled kernel with this adapter's tiling, the subgroup kernel (where the device has subgroups) and the kernel
//! the model uses. Every number is the median of `--runs` (default 5) timed runs; a run is one submit of enough
//! repeated dispatches to take about 0.2 s. Each kernel is first checked against the CPU (sizes <= 512).
//! `--peak-gflops N` (the card's fp32 peak, e.g. 67000 for an H100 SXM) adds the model kernel's fraction of it.
//! `--tilings` adds a table timing the tiled kernel with every row of the tiling table (and a few other
//! candidates), which is how the table's rows are chosen.
//! On a software adapter (lavapipe, SwiftShader) square sizes stop at 1024 unless `--large` is given, the readable
//! kernel is timed only up to 512 (it takes seconds per dispatch there), and the large config's shapes need
//! `--large` too.

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

    use transformer_playground::gpu::{GpuContext, MatmulTiling, Plan, View};
    use transformer_playground::ops::matmul_forward::{
        matmul_forward_fast_cpu, matmul_forward_gpu, matmul_forward_subgroup_gpu,
        matmul_forward_with_tiling,
    };

    /// Which kernel to time.
    #[derive(Clone, Copy)]
    enum Kernel {
        Readable,
        Tiled(MatmulTiling),
        Subgroup,
    }

    fn record(
        gpu: &GpuContext,
        kernel: Kernel,
        plan: &mut Plan,
        views: [View; 4],
        n: usize,
        c: usize,
        oc: usize,
    ) {
        let [out, inp, weight, bias] = views;
        match kernel {
            Kernel::Readable => {
                matmul_forward_gpu(gpu, plan, out, inp, weight, Some(bias), n, c, oc)
            }
            Kernel::Tiled(tiling) => matmul_forward_with_tiling(
                gpu,
                plan,
                tiling,
                out,
                inp,
                weight,
                Some(bias),
                n,
                c,
                oc,
            ),
            Kernel::Subgroup => {
                matmul_forward_subgroup_gpu(gpu, plan, out, inp, weight, Some(bias), n, c, oc)
            }
        }
    }

    fn median(mut values: Vec<f64>) -> f64 {
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        if values.len() % 2 == 1 {
            values[mid]
        } else {
            (values[mid - 1] + values[mid]) / 2.0
        }
    }

    /// One kernel at one shape, recorded, checked and ready to time.
    struct Prepared {
        plan: Plan,
        /// Dispatches per timed run: enough for about 0.2 s, so a run is not just submit overhead.
        repeats: usize,
        flops: f64,
        _buffers: [wgpu::Buffer; 4],
    }

    /// Records `kernel` at (N, C, OC) on random data, checks its output against the CPU (sizes <= 512), runs it
    /// once to warm up and sizes a timed run.
    fn prepare(
        gpu: &GpuContext,
        kernel: Kernel,
        (n, c, oc): (usize, usize, usize),
    ) -> Result<Prepared, String> {
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
        let buffers = [
            gpu.zeros("out", n * oc),
            gpu.upload("inp", &inp),
            gpu.upload("weight", &weight),
            gpu.upload("bias", &bias),
        ];
        let mut plan = Plan::new();
        let views = [
            (&buffers[0]).into(),
            (&buffers[1]).into(),
            (&buffers[2]).into(),
            (&buffers[3]).into(),
        ];
        record(gpu, kernel, &mut plan, views, n, c, oc);
        pollster::block_on(plan.run(gpu)).map_err(|e| e.to_string())?;
        if n.max(c).max(oc) <= 512 {
            let actual =
                pollster::block_on(gpu.read(&buffers[0], n * oc)).map_err(|e| e.to_string())?;
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
        let mut prepared = Prepared {
            plan,
            repeats: 1,
            flops: 2.0 * (n * c * oc) as f64,
            _buffers: buffers,
        };
        let once = seconds_per_matmul(gpu, &prepared)?;
        prepared.repeats = ((0.2 / once) as usize).clamp(1, 500);
        Ok(prepared)
    }

    /// One timed run: `repeats` dispatches in one submit, waited for; seconds per matmul.
    fn seconds_per_matmul(gpu: &GpuContext, prepared: &Prepared) -> Result<f64, String> {
        let start = Instant::now();
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        for _ in 0..prepared.repeats {
            prepared.plan.encode(&mut encoder);
        }
        gpu.queue.submit([encoder.finish()]);
        gpu.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| e.to_string())?;
        Ok(start.elapsed().as_secs_f64() / prepared.repeats as f64)
    }

    /// GFLOP/s of several kernels at one shape, their timed runs interleaved (one run of each in turn, `runs`
    /// rounds) so that a change in the machine's load hits them all alike; medians.
    fn gflops_interleaved(
        gpu: &GpuContext,
        kernels: &[Kernel],
        shape: (usize, usize, usize),
        runs: usize,
    ) -> Vec<Result<f64, String>> {
        let prepared: Vec<_> = kernels.iter().map(|&k| prepare(gpu, k, shape)).collect();
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); kernels.len()];
        for _ in 0..runs {
            for (p, t) in prepared.iter().zip(&mut times) {
                if let Ok(p) = p
                    && let Ok(seconds) = seconds_per_matmul(gpu, p)
                {
                    t.push(seconds);
                }
            }
        }
        prepared
            .into_iter()
            .zip(times)
            .map(|(p, t)| {
                let p = p?;
                if t.is_empty() {
                    return Err("no timed run finished".into());
                }
                Ok(p.flops / median(t) / 1e9)
            })
            .collect()
    }

    fn arg_value(name: &str) -> Option<String> {
        std::env::args().skip_while(|a| a != name).nth(1)
    }

    pub fn main() {
        let large = std::env::args().any(|a| a == "--large");
        let tilings = std::env::args().any(|a| a == "--tilings");
        let peak: Option<f64> = arg_value("--peak-gflops").and_then(|s| s.parse().ok());
        let runs: usize = arg_value("--runs")
            .and_then(|s| s.parse().ok())
            .unwrap_or(5)
            .max(1);
        let gpu = match pollster::block_on(GpuContext::new()) {
            Ok(gpu) => gpu,
            Err(e) => {
                eprintln!("no GPU adapter: {e}");
                std::process::exit(1);
            }
        };
        let s = &gpu.summary;
        let software = s.is_fallback;
        println!(
            "adapter: {} ({}, {}, {}{})",
            s.name,
            s.backend,
            s.device_type,
            s.driver,
            if software { ", software" } else { "" }
        );
        println!(
            "matmul tiling: {:?}; subgroups: {} (sizes {:?}); the model's forward matmul: {}",
            gpu.matmul_tiling,
            gpu.subgroups,
            s.subgroup_sizes,
            if gpu.subgroup_matmul() {
                "subgroup"
            } else if gpu.matmul_tiling.direct {
                "direct"
            } else {
                "tiled"
            }
        );
        println!("GFLOP/s = 2*N*C*OC / time, median of {runs} timed runs");

        let max_square = if software && !large { 1024 } else { 2048 };
        let mut shapes: Vec<(String, (usize, usize, usize))> = [256, 512, 1024, 2048]
            .into_iter()
            .filter(|&size| size <= max_square)
            .map(|size| (format!("square {size}"), (size, size, size)))
            .collect();
        // The model's linear layers (N = B*T rows), character vocabulary of 65: the reference config
        // (C=128, B=16, T=64) and the large one (C=384, B=8, T=256).
        let mut configs = vec![("ref", 128, 16 * 64)];
        if !software || large {
            configs.push(("large", 384, 8 * 256));
        }
        for (config, c, n) in configs {
            for (layer, cin, cout) in [
                ("qkv", c, 3 * c),
                ("attn proj", c, c),
                ("fc", c, 4 * c),
                ("fc proj", 4 * c, c),
                ("lm head", c, 65),
            ] {
                shapes.push((format!("{config} {layer}"), (n, cin, cout)));
            }
        }
        if software && !large {
            println!(
                "(software adapter: squares up to 1024 and the reference config only; --large adds 2048 and the large config)"
            );
        }

        let mut header = "| shape | N x C x OC | readable | tiled |".to_string();
        let mut rule = "|---|---|---|---|".to_string();
        if gpu.subgroups {
            header += " subgroup |";
            rule += "---|";
        }
        header += " model's kernel |";
        rule += "---|";
        if peak.is_some() {
            header += " % of fp32 peak |";
            rule += "---|";
        }
        println!("\n{header}\n{rule}");
        let value = |r: &Result<f64, String>| r.as_ref().ok().copied();
        let mut summary_rows = Vec::new();
        let show = |r: &Result<f64, String>| match r {
            Ok(g) => format!("{g:.2}"),
            Err(e) => format!("error: {e}"),
        };
        for (name, shape @ (n, c, oc)) in &shapes {
            // Timed runs of the kernels interleaved, so load changes hit them alike.
            let readable = !(software && *n.max(c).max(oc) > 512);
            let mut kernels = vec![Kernel::Tiled(gpu.matmul_tiling)];
            if gpu.subgroups {
                kernels.push(Kernel::Subgroup);
            }
            if readable {
                kernels.push(Kernel::Readable);
            }
            let mut results = gflops_interleaved(&gpu, &kernels, *shape, runs).into_iter();
            let tiled = results.next().unwrap_or(Err("not run".into()));
            let subgroup = gpu
                .subgroups
                .then(|| results.next().unwrap_or(Err("not run".into())));
            let readable = results.next().map_or("-".to_string(), |r| show(&r));
            let mut row = format!(
                "| {name} | {n} x {c} x {oc} | {readable} | {} |",
                show(&tiled)
            );
            if let Some(subgroup) = &subgroup {
                row += &format!(" {} |", show(subgroup));
            }
            // The model's kernel (`matmul_forward_fast_gpu`) is the subgroup one where there are subgroups.
            summary_rows.push(serde_json::json!({
                "shape": name, "n": n, "c": c, "oc": oc,
                "tiled_gflops": value(&tiled),
                "subgroup_gflops": subgroup.as_ref().and_then(value),
                "peak_fraction": peak.and_then(|p| value(subgroup.as_ref().unwrap_or(&tiled)).map(|g| g / p)),
            }));
            let model = subgroup.unwrap_or(tiled);
            row += &format!(" {} |", show(&model));
            if let Some(peak) = peak {
                match model {
                    Ok(g) => row += &format!(" {:.1}% |", 100.0 * g / peak),
                    Err(_) => row += " - |",
                }
            }
            println!("{row}");
        }

        let mut tiling_rows = Vec::new();
        if tilings {
            // The table's rows plus a few other shapes of workgroup, to choose the rows from measurements.
            let mut candidates = MatmulTiling::ALL.to_vec();
            for (wg_x, wg_y, bk) in [
                (16, 16, 32),
                (8, 8, 32),
                (8, 4, 16),
                (8, 4, 32),
                (8, 4, 64),
                (4, 8, 32),
                (4, 4, 32),
                (16, 4, 32),
            ] {
                candidates.push(MatmulTiling {
                    name: "candidate",
                    wg_x,
                    wg_y,
                    bk,
                    direct: false,
                });
            }
            // Other workgroup shapes of the direct kernel (no workgroup memory, so no BK).
            for (wg_x, wg_y) in [(16, 16), (16, 4), (4, 4)] {
                candidates.push(MatmulTiling {
                    name: "direct candidate",
                    wg_x,
                    wg_y,
                    direct: true,
                    ..MatmulTiling::DIRECT
                });
            }
            candidates.retain(|t| t.fits(&gpu.device.limits()));
            let tiling_shapes: Vec<_> = shapes
                .iter()
                .filter(|(name, _)| {
                    ["square 512", "square 2048", "ref fc", "ref qkv", "large fc"]
                        .contains(&name.as_str())
                })
                .cloned()
                .collect();
            let mut header = "\n| tiling | WG_X x WG_Y, BK |".to_string();
            let mut rule = "|---|---|".to_string();
            for (name, _) in &tiling_shapes {
                header += &format!(" {name} |");
                rule += "---|";
            }
            println!("{header}\n{rule}");
            let kernels: Vec<Kernel> = candidates.iter().map(|&t| Kernel::Tiled(t)).collect();
            let columns: Vec<Vec<Result<f64, String>>> = tiling_shapes
                .iter()
                .map(|(_, shape)| gflops_interleaved(&gpu, &kernels, *shape, runs))
                .collect();
            for (i, tiling) in candidates.iter().enumerate() {
                let gflops: Vec<_> = columns.iter().map(|column| value(&column[i])).collect();
                tiling_rows.push(serde_json::json!({"tiling": tiling, "gflops": gflops}));
                let mut row = format!(
                    "| {} | {} x {}, {} |",
                    tiling.name, tiling.wg_x, tiling.wg_y, tiling.bk
                );
                for column in &columns {
                    row += &format!(" {} |", show(&column[i]));
                }
                println!("{row}");
            }
        }
        let tiling_shape_names: Vec<&String> = shapes
            .iter()
            .map(|(name, _)| name)
            .filter(|name| {
                ["square 512", "square 2048", "ref fc", "ref qkv", "large fc"]
                    .contains(&name.as_str())
            })
            .collect();
        println!(
            "\nsummary: {}",
            serde_json::json!({
                "bench": "matmul_bench",
                "adapter": s.name,
                "backend": s.backend,
                "device_type": s.device_type,
                "driver": s.driver,
                "matmul_tiling": gpu.matmul_tiling,
                "subgroups": gpu.subgroups,
                "peak_gflops": peak,
                "runs": runs,
                "shapes": summary_rows,
                "tilings": {"shapes": tiling_shape_names, "rows": tiling_rows},
            })
        );
    }
}
