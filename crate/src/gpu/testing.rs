//! Test support for GPU kernels: one shared context for the whole test binary, and the rule that a GPU test
//! never passes silently. With `CI=true` a missing adapter fails the test; elsewhere it prints a loud skip.

use std::sync::OnceLock;

use super::GpuContext;

/// The shared context, or `None` (after printing why) when no adapter exists and we are not in CI.
pub fn gpu_or_skip(test_name: &str) -> Option<&'static GpuContext> {
    static CONTEXT: OnceLock<Result<GpuContext, String>> = OnceLock::new();
    let context =
        CONTEXT.get_or_init(|| pollster::block_on(GpuContext::new()).map_err(|e| e.to_string()));
    match context {
        Ok(context) => {
            eprintln!(
                "[gpu] {test_name}: running on {} ({})",
                context.summary.name, context.summary.backend
            );
            Some(context)
        }
        Err(reason) => {
            let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !in_ci,
                "CI=true but no GPU adapter is available for {test_name}: {reason}"
            );
            eprintln!("\n!!! SKIPPED GPU TEST {test_name}: {reason}");
            eprintln!(
                "!!! install a Vulkan driver (Debian: apt-get install mesa-vulkan-drivers) to run it\n"
            );
            None
        }
    }
}

/// The shared context when its device has `shader-f16` (the f16 kernels' tests), else `None` after a loud skip;
/// with `CI=true` an adapter without it fails the test (CI runs on lavapipe, which offers it).
pub fn gpu_f16_or_skip(test_name: &str) -> Option<&'static GpuContext> {
    let context = gpu_or_skip(test_name)?;
    if context.f16 {
        return Some(context);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !in_ci,
        "CI=true but the adapter {} has no shader-f16 for {test_name}",
        context.summary.name
    );
    eprintln!(
        "\n!!! SKIPPED GPU TEST {test_name}: the adapter {} has no shader-f16\n",
        context.summary.name
    );
    None
}

/// `values` rounded to the nearest f16 (ties to even) and widened back: what an f16 buffer holds, so a CPU
/// reference fed these and rounded again is "the CPU reference evaluated with f16 rounding".
pub fn round_f16(values: &[f32]) -> Vec<f32> {
    values
        .iter()
        .map(|&x| half::f16::from_f32(x).to_f32())
        .collect()
}

/// The tolerance of the f16 kernels' tests against the f16-rounded CPU reference: one f16 unit in the last
/// place (2^-10 relative) for a sum done in another order that lands on the other side of a rounding boundary,
/// plus `atol` for values near zero.
pub const F16_RTOL: f32 = 1.0 / 1024.0;

/// An f16 buffer holding `values` rounded to f16, and those rounded values (what the CPU reference is given).
pub fn upload_f16_rounded(
    gpu: &GpuContext,
    label: &str,
    values: &[f32],
) -> (wgpu::Buffer, Vec<f32>) {
    let rounded = round_f16(values);
    (gpu.upload_f16(label, &rounded), rounded)
}

/// The first `len` numbers of an f16 buffer (blocking; tests only).
pub fn read_f16_now(gpu: &GpuContext, buffer: &wgpu::Buffer, len: usize) -> Vec<f32> {
    pollster::block_on(gpu.read_f16(buffer, len)).expect("f16 readback")
}

/// A context of its own on the test adapter, its storage-binding and buffer limits capped at `caps` bytes
/// ([`GpuContext::with_memory_limits`]): a small model then takes the paths of one larger than the device. `None`
/// after a loud skip when there is no adapter, as [`gpu_or_skip`] (which fails with `CI=true`).
pub fn gpu_capped_or_skip(test_name: &str, caps: (u64, u64)) -> Option<GpuContext> {
    gpu_or_skip(test_name)?;
    let gpu = pollster::block_on(GpuContext::with_memory_limits(Some(caps)))
        .expect("the adapter opens a second device with lower limits");
    eprintln!(
        "[gpu] {test_name}: a device binding at most {} bytes, buffers of at most {} bytes",
        gpu.summary.max_storage_buffer_binding_size, gpu.summary.max_buffer_size
    );
    Some(gpu)
}
