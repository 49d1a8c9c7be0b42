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

/// Asserts `|actual - expected| <= atol + rtol * |expected|` element by element, naming the first mismatch.
#[track_caller]
pub fn assert_close(actual: &[f32], expected: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    let mut worst = (0usize, 0.0f32);
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let excess = (a - e).abs() - (atol + rtol * e.abs());
        assert!(
            excess.is_finite() || a == e,
            "{what}[{i}]: got {a}, expected {e}"
        );
        if excess > worst.1 {
            worst = (i, excess);
        }
    }
    let (i, excess) = worst;
    assert!(
        excess <= 0.0,
        "{what}[{i}]: got {}, expected {} (|diff| {} > {atol} + {rtol}*|expected|)",
        actual[i],
        expected[i],
        (actual[i] - expected[i]).abs()
    );
}

/// A small deterministic generator for test data (xorshift), so tests need no extra crate.
pub struct TestRng(u64);

impl TestRng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    pub fn vec(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.uniform()).collect()
    }
    /// Uniform in lo..=hi.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}
