//! The GPU commands (feature `gpu`): `tplay gpu` shows the adapter, `tplay check` runs a kernel against the CPU.

pub fn gpu_info() -> transformer_playground::Result<()> {
    let gpu = pollster::block_on(transformer_playground::gpu::GpuContext::new())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&gpu.summary).expect("summary serialises")
    );
    Ok(())
}

pub fn check() -> transformer_playground::Result<()> {
    use transformer_playground::ops::matmul_forward::{matmul_forward_cpu, matmul_forward_run};
    let gpu = pollster::block_on(transformer_playground::gpu::GpuContext::new())?;
    let (n, c, oc) = (14, 12, 37);
    let inp: Vec<f32> = (0..n * c)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0)
        .collect();
    let weight: Vec<f32> = (0..oc * c)
        .map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0)
        .collect();
    let bias: Vec<f32> = (0..oc).map(|i| i as f32 / oc as f32).collect();
    let mut expected = vec![0.0; n * oc];
    matmul_forward_cpu(&mut expected, &inp, &weight, Some(&bias), n, c, oc);
    let actual = pollster::block_on(matmul_forward_run(
        &gpu,
        &inp,
        &weight,
        Some(&bias),
        n,
        c,
        oc,
    ))?;
    let max_diff = actual
        .iter()
        .zip(&expected)
        .map(|(a, e)| (a - e).abs())
        .fold(0.0f32, f32::max);
    println!(
        "{}",
        serde_json::json!({"adapter": gpu.summary.name, "kernel": "matmul_forward", "shape": [n, c, oc], "max_abs_diff": max_diff, "pass": max_diff <= 1e-4})
    );
    Ok(())
}
