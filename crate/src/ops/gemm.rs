//! gemm: the matrix products under the fast matmuls (`matmul_forward_fast_cpu`, `matmul_backward_fast_cpu`)
//! and the fast CPU attention, and a cache-friendly transpose.
//!
//! Natively (not wasm) f32 products go to the [`gemm`](https://docs.rs/gemm) crate: packed blocks sized to the
//! caches, the widest microkernel the CPU has (AVX-512 here, AVX2+FMA or SSE elsewhere, picked at run time),
//! and rayon's thread pool (`RAYON_NUM_THREADS`, default every core) over blocks of the output. It reads any
//! strides, so the transposed operands of the linear layers (`weight^T`, `dout^T`) are never copied. Each
//! output value is summed by one thread in an order fixed by the sizes and the kernel, so a run is
//! deterministic on a given machine whatever the thread count.
//!
//! The wasm module (and f64, and other targets) uses the blocked kernel written here, which keeps the wasm
//! build free of the crate and its threads. Intuition: a matmul is bound by memory, not arithmetic, unless
//! every value loaded is used many times. So `b` is copied block by block (KC x NC, about 128 KiB: it stays
//! in L2) into panels NR columns wide that the inner loop reads front to back, and each MR x NR tile of `c`
//! is held in SIMD registers for the whole depth of a block: per step of k, one row of a panel (NR values)
//! and MR values of `a` feed MR x NR multiply-adds.
//!
//! The tile lives in explicit SIMD values (`Lane`): the x86-64 AVX2+FMA version (picked at run time,
//! 6 x 16 tile in 12 ymm registers), the SSE2 version every x86-64 has (4 x 8), and wasm simd128 (4 x 8,
//! when the module is built with `-C target-feature=+simd128`). Written with plain arrays instead, LLVM
//! keeps the tile in registers only at opt-level 3 (the test profile uses 2) and runs 10x slower. Other
//! targets and f64 use the portable scalar loop. The order of additions depends only on the sizes and the
//! kernel picked, so results are deterministic on a given machine.

use std::any::TypeId;

use super::float::Float;

/// Depth of a packed block of `b`.
const KC: usize = 128;
/// Width of a packed block of `b` (KC x NC f32 = 128 KiB).
const NC: usize = 256;

/// out (cols, rows) = inp (rows, cols)^T, in 32 x 32 tiles so reads and writes stay within a few lines.
pub(crate) fn transpose<R: Float>(inp: &[R], rows: usize, cols: usize) -> Vec<R> {
    let mut out = vec![R::ZERO; rows * cols];
    const TB: usize = 32;
    for r0 in (0..rows).step_by(TB) {
        for c0 in (0..cols).step_by(TB) {
            for r in r0..(r0 + TB).min(rows) {
                for col in c0..(c0 + TB).min(cols) {
                    out[col * rows + r] = inp[r * cols + col];
                }
            }
        }
    }
    out
}

/// How an operand of [`gemm_acc_t`] is stored: as the (rows, cols) matrix the product reads, row-major, or
/// as its transpose (cols, rows), row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    RowMajor,
    Transposed,
}

/// c (M, N) += op(a) (M, K) @ op(b) (K, N), c row-major; op(a) is `a` (M, K) or, `Transposed`, `a` holds
/// (K, M) row-major (likewise `b`). The natively fast path reads the transposed operands in place; the others
/// copy them once with [`transpose`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_acc_t<R: Float>(
    c: &mut [R],
    a: &[R],
    a_layout: Layout,
    b: &[R],
    b_layout: Layout,
    m: usize,
    k: usize,
    n: usize,
) {
    assert!(
        c.len() >= m * n && a.len() >= m * k && b.len() >= k * n,
        "gemm_acc_t: slices shorter than (M, K, N) = ({m}, {k}, {n})"
    );
    #[cfg(not(target_arch = "wasm32"))]
    if let Some((c, a, b)) = as_f32(c, a, b) {
        native::gemm_f32(c, a, a_layout, b, b_layout, m, k, n);
        return;
    }
    let a_t;
    let a = match a_layout {
        Layout::RowMajor => a,
        Layout::Transposed => {
            a_t = transpose(&a[..m * k], k, m);
            &a_t[..]
        }
    };
    let b_t;
    let b = match b_layout {
        Layout::RowMajor => b,
        Layout::Transposed => {
            b_t = transpose(&b[..k * n], n, k);
            &b_t[..]
        }
    };
    gemm_acc(c, a, b, m, k, n);
}

/// The slices as f32 slices when R is f32.
#[cfg(not(target_arch = "wasm32"))]
fn as_f32<'s, R: Float>(
    c: &'s mut [R],
    a: &'s [R],
    b: &'s [R],
) -> Option<(&'s mut [f32], &'s [f32], &'s [f32])> {
    if TypeId::of::<R>() != TypeId::of::<f32>() {
        return None;
    }
    // SAFETY: R is f32 (checked above), so the slices are f32 slices of the same lengths.
    Some(unsafe {
        (
            std::slice::from_raw_parts_mut(c.as_mut_ptr().cast::<f32>(), c.len()),
            std::slice::from_raw_parts(a.as_ptr().cast::<f32>(), a.len()),
            std::slice::from_raw_parts(b.as_ptr().cast::<f32>(), b.len()),
        )
    })
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod native {
    use super::Layout;

    /// Element strides (row, column) of an operand stored as `layout` with `cols` columns in the product.
    fn strides(layout: Layout, rows: usize, cols: usize) -> (isize, isize) {
        match layout {
            Layout::RowMajor => (cols as isize, 1),
            Layout::Transposed => (1, rows as isize),
        }
    }

    /// c (M, N) += op(a) @ op(b) through the gemm crate, on rayon's pool when the product is large enough
    /// to share (the crate's own threshold decides; each thread owns whole blocks of c).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gemm_f32(
        c: &mut [f32],
        a: &[f32],
        a_layout: Layout,
        b: &[f32],
        b_layout: Layout,
        m: usize,
        k: usize,
        n: usize,
    ) {
        if m == 0 || n == 0 || k == 0 {
            return;
        }
        let (a_rs, a_cs) = strides(a_layout, m, k);
        let (b_rs, b_cs) = strides(b_layout, k, n);
        // Inside a parallel piece (the attention's heads) the product runs on its piece's thread.
        let threads = rayon::current_num_threads();
        let parallelism = if threads > 1 && !crate::ops::parallel::in_piece() {
            gemm::Parallelism::Rayon(threads)
        } else {
            gemm::Parallelism::None
        };
        // SAFETY: the caller checked c >= M*N, a >= M*K, b >= K*N; with these strides every index the
        // crate forms, (i, j) -> i*rs + j*cs for i < rows and j < cols, stays below rows*cols. c is not
        // aliased by a or b (a &mut and two & slices).
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                n as isize,
                true,
                a.as_ptr(),
                a_cs,
                a_rs,
                b.as_ptr(),
                b_cs,
                b_rs,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
    }
}

/// c (M, N) += a (M, K) @ b (K, N), all row-major.
pub(crate) fn gemm_acc<R: Float>(c: &mut [R], a: &[R], b: &[R], m: usize, k: usize, n: usize) {
    assert!(
        c.len() >= m * n && a.len() >= m * k && b.len() >= k * n,
        "gemm_acc: slices shorter than (M, K, N) = ({m}, {k}, {n})"
    );
    #[cfg(not(target_arch = "wasm32"))]
    if let Some((c, a, b)) = as_f32(c, a, b) {
        native::gemm_f32(c, a, Layout::RowMajor, b, Layout::RowMajor, m, k, n);
        return;
    }
    gemm_blocked(c, a, b, m, k, n);
}

/// The blocked kernel written here (the wasm module's, and f64's): c (M, N) += a (M, K) @ b (K, N).
pub(crate) fn gemm_blocked<R: Float>(c: &mut [R], a: &[R], b: &[R], m: usize, k: usize, n: usize) {
    if TypeId::of::<R>() == TypeId::of::<f32>() {
        // SAFETY: R is f32 (checked on the line above), so the slices are f32 slices.
        let (c, a, b) = unsafe {
            (
                std::slice::from_raw_parts_mut(c.as_mut_ptr().cast::<f32>(), c.len()),
                std::slice::from_raw_parts(a.as_ptr().cast::<f32>(), a.len()),
                std::slice::from_raw_parts(b.as_ptr().cast::<f32>(), b.len()),
            )
        };
        gemm_acc_f32(c, a, b, m, k, n);
        return;
    }
    gemm_scalar(c, a, b, m, k, n);
}

fn gemm_acc_f32(c: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA (checked above); lengths were checked by gemm_acc.
            unsafe { gemm_avx2_fma(c, a, b, m, k, n) };
        } else {
            // SAFETY: SSE2 is part of x86-64; lengths were checked by gemm_acc.
            unsafe { gemm_simd::<Sse2, 4, 2>(c, a, b, m, k, n) };
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: the module is built with simd128; lengths were checked by gemm_acc.
        unsafe { gemm_simd::<Wasm128, 4, 2>(c, a, b, m, k, n) };
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    gemm_scalar(c, a, b, m, k, n);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemm_avx2_fma(c: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { gemm_simd::<Avx2Fma, 6, 2>(c, a, b, m, k, n) };
}

/// Copies b[k0..k0+kc, j0..j0+nc] into `packed` as ceil(nc/nr) panels of (kc, nr), zero-padded on the right.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pack_panels<R: Float>(
    packed: &mut [R],
    b: &[R],
    k0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    n: usize,
    nr: usize,
) {
    for p in 0..nc.div_ceil(nr) {
        let panel = &mut packed[p * kc * nr..(p + 1) * kc * nr];
        let cols = nr.min(nc - p * nr);
        for kk in 0..kc {
            let src = &b[(k0 + kk) * n + j0 + p * nr..][..cols];
            let dst = &mut panel[kk * nr..(kk + 1) * nr];
            dst[..cols].copy_from_slice(src);
            dst[cols..].fill(R::ZERO);
        }
    }
}

/// One SIMD register of f32 lanes. The methods are unsafe because each implementation needs its CPU
/// feature; `gemm_simd` is only called where the feature is known to be there.
trait Lane: Copy {
    const W: usize;
    unsafe fn zero() -> Self;
    unsafe fn splat(x: f32) -> Self;
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    /// acc + a * b (fused into one rounding where the lane type has FMA).
    unsafe fn mul_add(a: Self, b: Self, acc: Self) -> Self;
    unsafe fn add(a: Self, b: Self) -> Self;
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Avx2Fma(std::arch::x86_64::__m256);

#[cfg(target_arch = "x86_64")]
impl Lane for Avx2Fma {
    const W: usize = 8;
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn zero() -> Self {
        Self(std::arch::x86_64::_mm256_setzero_ps())
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn splat(x: f32) -> Self {
        Self(std::arch::x86_64::_mm256_set1_ps(x))
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 8 readable floats at p.
        Self(unsafe { std::arch::x86_64::_mm256_loadu_ps(p) })
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 8 writable floats at p.
        unsafe { std::arch::x86_64::_mm256_storeu_ps(p, self.0) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn mul_add(a: Self, b: Self, acc: Self) -> Self {
        Self(std::arch::x86_64::_mm256_fmadd_ps(a.0, b.0, acc.0))
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn add(a: Self, b: Self) -> Self {
        Self(std::arch::x86_64::_mm256_add_ps(a.0, b.0))
    }
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Sse2(std::arch::x86_64::__m128);

#[cfg(target_arch = "x86_64")]
impl Lane for Sse2 {
    const W: usize = 4;
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: SSE is part of x86-64.
        Self(unsafe { std::arch::x86_64::_mm_setzero_ps() })
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: SSE is part of x86-64.
        Self(unsafe { std::arch::x86_64::_mm_set1_ps(x) })
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 4 readable floats at p.
        Self(unsafe { std::arch::x86_64::_mm_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 4 writable floats at p.
        unsafe { std::arch::x86_64::_mm_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, acc: Self) -> Self {
        use std::arch::x86_64::{_mm_add_ps, _mm_mul_ps};
        // SAFETY: SSE is part of x86-64.
        Self(unsafe { _mm_add_ps(acc.0, _mm_mul_ps(a.0, b.0)) })
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        // SAFETY: SSE is part of x86-64.
        Self(unsafe { std::arch::x86_64::_mm_add_ps(a.0, b.0) })
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[derive(Clone, Copy)]
struct Wasm128(core::arch::wasm32::v128);

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl Lane for Wasm128 {
    const W: usize = 4;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Self(core::arch::wasm32::f32x4_splat(0.0))
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Self(core::arch::wasm32::f32x4_splat(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 4 readable floats at p.
        Self(unsafe { core::arch::wasm32::v128_load(p.cast()) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 4 writable floats at p.
        unsafe { core::arch::wasm32::v128_store(p.cast(), self.0) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, acc: Self) -> Self {
        use core::arch::wasm32::{f32x4_add, f32x4_mul};
        Self(f32x4_add(acc.0, f32x4_mul(a.0, b.0)))
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        Self(core::arch::wasm32::f32x4_add(a.0, b.0))
    }
}

/// The blocked gemm with an MR x (NV * V::W) register tile.
/// SAFETY (caller): V's CPU feature is available; c, a, b hold at least M*N, M*K, K*N values.
#[inline(always)]
#[allow(dead_code)] // unused on targets without a SIMD lane type
unsafe fn gemm_simd<V: Lane, const MR: usize, const NV: usize>(
    c: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
) {
    let nr = NV * V::W;
    let mut packed = vec![0.0f32; KC * NC.next_multiple_of(nr)];
    for j0 in (0..n).step_by(NC) {
        let nc = NC.min(n - j0);
        for k0 in (0..k).step_by(KC) {
            let kc = KC.min(k - k0);
            pack_panels(&mut packed, b, k0, kc, j0, nc, n, nr);
            for p in 0..nc.div_ceil(nr) {
                let panel = &packed[p * kc * nr..(p + 1) * kc * nr];
                let (j, cols) = (j0 + p * nr, nr.min(nc - p * nr));
                let mut i = 0;
                // SAFETY: rows i..i+MR < m, columns j..j+cols <= n, depth k0+kc <= k, panel is kc * nr.
                unsafe {
                    while i + MR <= m {
                        micro_simd::<V, MR, NV>(c, a, panel, i, k0, kc, j, cols, k, n);
                        i += MR;
                    }
                    while i < m {
                        micro_simd::<V, 1, NV>(c, a, panel, i, k0, kc, j, cols, k, n);
                        i += 1;
                    }
                }
            }
        }
    }
}

/// c[i..i+ROWS, j..j+cols] += a[i..i+ROWS, k0..k0+kc] @ panel (kc, NV * V::W).
#[allow(clippy::too_many_arguments, dead_code)]
#[inline(always)]
unsafe fn micro_simd<V: Lane, const ROWS: usize, const NV: usize>(
    c: &mut [f32],
    a: &[f32],
    panel: &[f32],
    i: usize,
    k0: usize,
    kc: usize,
    j: usize,
    cols: usize,
    k: usize,
    n: usize,
) {
    let nr = NV * V::W;
    debug_assert!(panel.len() >= kc * nr && cols <= nr && j + cols <= n);
    // SAFETY: see gemm_simd; every pointer below stays inside the slices it was taken from.
    unsafe {
        let mut acc = [[V::zero(); NV]; ROWS];
        let a_rows: [*const f32; ROWS] = std::array::from_fn(|r| a.as_ptr().add((i + r) * k + k0));
        let mut bp = panel.as_ptr();
        for kk in 0..kc {
            let mut bv = [V::zero(); NV];
            for (v, lane) in bv.iter_mut().enumerate() {
                *lane = V::load(bp.add(v * V::W));
            }
            for r in 0..ROWS {
                let x = V::splat(*a_rows[r].add(kk));
                for v in 0..NV {
                    acc[r][v] = V::mul_add(x, bv[v], acc[r][v]);
                }
            }
            bp = bp.add(nr);
        }
        for (r, acc_row) in acc.iter().enumerate() {
            let cp = c.as_mut_ptr().add((i + r) * n + j);
            if cols == nr {
                for (v, &lane) in acc_row.iter().enumerate() {
                    let p = cp.add(v * V::W);
                    V::add(V::load(p), lane).store(p);
                }
            } else {
                let mut tile = [0.0f32; 64];
                for (v, &lane) in acc_row.iter().enumerate() {
                    lane.store(tile.as_mut_ptr().add(v * V::W));
                }
                for (jj, &t) in tile[..cols].iter().enumerate() {
                    *cp.add(jj) += t;
                }
            }
        }
    }
}

/// The portable version: the same blocking with a 4 x 8 tile of plain arrays (f64, other targets).
fn gemm_scalar<R: Float>(c: &mut [R], a: &[R], b: &[R], m: usize, k: usize, n: usize) {
    const MR: usize = 4;
    const NR: usize = 8;
    let mut packed = vec![R::ZERO; KC * NC.next_multiple_of(NR)];
    for j0 in (0..n).step_by(NC) {
        let nc = NC.min(n - j0);
        for k0 in (0..k).step_by(KC) {
            let kc = KC.min(k - k0);
            pack_panels(&mut packed, b, k0, kc, j0, nc, n, NR);
            for p in 0..nc.div_ceil(NR) {
                let panel = &packed[p * kc * NR..(p + 1) * kc * NR];
                let (j, cols) = (j0 + p * NR, NR.min(nc - p * NR));
                let mut i = 0;
                while i < m {
                    let rows = MR.min(m - i);
                    let mut acc = [[R::ZERO; NR]; MR];
                    for (kk, bv) in panel.chunks_exact(NR).enumerate() {
                        for (r, acc_row) in acc.iter_mut().enumerate().take(rows) {
                            let x = a[(i + r) * k + k0 + kk];
                            for (acc, &bj) in acc_row.iter_mut().zip(bv) {
                                *acc += x * bj;
                            }
                        }
                    }
                    for (r, acc_row) in acc.iter().enumerate().take(rows) {
                        for (cv, &t) in c[(i + r) * n + j..][..cols].iter_mut().zip(acc_row) {
                            *cv += t;
                        }
                    }
                    i += rows;
                }
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::testing::{TestRng, assert_close};

    #[test]
    fn the_native_product_is_the_same_on_one_and_several_threads() {
        use crate::ops::testing::on_threads;
        let mut rng = TestRng::new(10);
        // Large enough that the crate shares it between threads, with awkward edges.
        let (m, k, n) = (301, 257, 263);
        let (a, b, c0) = (rng.vec(m * k), rng.vec(k * n), rng.vec(m * n));
        let run = |threads| {
            on_threads(threads, || {
                let mut c = c0.clone();
                gemm_acc_t(
                    &mut c,
                    &a,
                    Layout::RowMajor,
                    &b,
                    Layout::Transposed,
                    m,
                    k,
                    n,
                );
                c
            })
        };
        assert!(run(1) == run(3), "the product depends on the thread count");
    }

    /// c += a @ b by the textbook triple loop.
    fn naive(c: &mut [f32], a: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] += (0..k).map(|kk| a[i * k + kk] * b[kk * n + j]).sum::<f32>();
            }
        }
    }

    #[test]
    fn every_kernel_matches_the_triple_loop() {
        let mut rng = TestRng::new(9);
        for &(m, k, n) in &[
            (1, 1, 1),
            (7, 5, 3),
            (13, 129, 17),
            (65, 300, 270),
            (6, 128, 16),
        ] {
            let (a, b, c0) = (rng.vec(m * k), rng.vec(k * n), rng.vec(m * n));
            let mut expected = c0.clone();
            naive(&mut expected, &a, &b, m, k, n);
            let mut dispatched = c0.clone();
            gemm_acc(&mut dispatched, &a, &b, m, k, n);
            let mut blocked = c0.clone();
            gemm_blocked(&mut blocked, &a, &b, m, k, n);
            let mut scalar = c0.clone();
            gemm_scalar(&mut scalar, &a, &b, m, k, n);
            // The same product from operands stored transposed (read in place by the native path).
            let (a_t, b_t) = (transpose(&a, m, k), transpose(&b, k, n));
            let mut strided = c0.clone();
            gemm_acc_t(
                &mut strided,
                &a_t,
                Layout::Transposed,
                &b_t,
                Layout::Transposed,
                m,
                k,
                n,
            );
            let mut strided_f64: Vec<f64> = c0.iter().map(|&x| f64::from(x)).collect();
            let widen = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
            gemm_acc_t(
                &mut strided_f64,
                &widen(&a),
                Layout::RowMajor,
                &widen(&b_t),
                Layout::Transposed,
                m,
                k,
                n,
            );
            let strided_f64: Vec<f32> = strided_f64.iter().map(|&x| x as f32).collect();
            let mut sse = c0.clone();
            // SAFETY: SSE2 is part of x86-64.
            unsafe { gemm_simd::<Sse2, 4, 2>(&mut sse, &a, &b, m, k, n) };
            // Sums of up to 300 products of values in [-1, 1], reordered: 1e-5 relative + 5e-5 absolute.
            for (got, name) in [
                (&dispatched, "dispatched"),
                (&blocked, "blocked"),
                (&strided, "transposed operands"),
                (&strided_f64, "transposed operands in f64"),
                (&scalar, "scalar"),
                (&sse, "sse2"),
            ] {
                assert_close(
                    got,
                    &expected,
                    5e-5,
                    1e-5,
                    &format!("gemm {name} ({m}, {k}, {n})"),
                );
            }
        }
    }
}
