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
