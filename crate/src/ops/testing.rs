//! Test support shared by the CPU and the GPU tests: deterministic test data and an elementwise tolerance
//! check. (The GPU side, a shared context that never skips silently in CI, is `gpu::testing`.)

/// Deterministic test data (xorshift64), so tests need no extra crate: f32 values for the GPU tests,
/// f64 values for the finite-difference checks, sizes and token ids.
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

    /// Uniform in [-1, 1), 24 random bits (every value exact in f32).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    pub fn vec(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.uniform()).collect()
    }

    /// Uniform in [-1, 1), 53 random bits.
    pub fn uniform_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    pub fn vec_f64(&mut self, len: usize) -> Vec<f64> {
        (0..len).map(|_| self.uniform_f64()).collect()
    }

    /// Uniform in lo..=hi (random shapes; only the GPU tests draw them).
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// `len` token ids uniform in 0..vocab.
    pub fn tokens(&mut self, len: usize, vocab: usize) -> Vec<u32> {
        (0..len)
            .map(|_| (self.next_u64() % vocab as u64) as u32)
            .collect()
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

/// Runs `f` on a rayon pool of `threads` threads (natively the fast CPU kernels share work on the current
/// pool): the tests run a kernel on one and on several threads and compare.
#[cfg(not(target_arch = "wasm32"))]
pub fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool")
        .install(f)
}
