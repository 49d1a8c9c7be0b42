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
//! build free of the crate and its threads. In wasm it too reads transposed operands in place (packing `b`
//! through its strides, the register tile reading `a` through its strides), and keeps its packing buffer
//! between products. Intuition: a matmul is bound by memory, not arithmetic, unless
//! every value loaded is used many times. So `b` is copied block by block (KC x NC, about 128 KiB: it stays
//! in L2) into panels NR columns wide that the inner loop reads front to back, and each MR x NR tile of `c`
//! is held in SIMD registers for the whole depth of a block: per step of k, one row of a panel (NR values)
//! and MR values of `a` feed MR x NR multiply-adds.
//!
//! The tile lives in explicit SIMD values (`Lane`), four rows by two registers, spelled out as eight variables:
//! the x86-64 AVX2+FMA version (picked at run time, 4 x 16), the SSE2 version every x86-64 has (4 x 8), and
//! wasm simd128 (4 x 8, when the module is built with `-C target-feature=+simd128`). Written with arrays
//! looped over instead, LLVM keeps the tile in registers only when it fully unrolls the loops: at opt-level 3,
//! not at 2 (the test profile) nor at "s" (the wasm module, scripts/build.sh), where it runs 2-10x slower. Other
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

/// Where element (row, col) of an operand of the product lies in its slice: at `row * rs + col * cs`.
#[derive(Clone, Copy, Debug)]
struct Strides {
    rs: usize,
    cs: usize,
}

impl Strides {
    /// The strides of an operand that is (rows, cols) in the product, stored as `layout`.
    #[allow(dead_code)] // unused on wasm without simd128
    fn of(layout: Layout, rows: usize, cols: usize) -> Self {
        match layout {
            Layout::RowMajor => Self { rs: cols, cs: 1 },
            Layout::Transposed => Self { rs: 1, cs: rows },
        }
    }
}

/// c (M, N) += op(a) (M, K) @ op(b) (K, N), c row-major; op(a) is `a` (M, K) or, `Transposed`, `a` holds
/// (K, M) row-major (likewise `b`). The native (gemm crate) and wasm (simd128) f32 paths read the transposed
/// operands in place; the others (f64, other targets) copy them once with [`transpose`].
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
    // The wasm kernel reads the transposed operands in place too: packing `b` reads it by its strides, and the
    // micro-kernel reads `a` by its strides (a transposed `a` gives it MR neighbouring values per step).
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if let Some((c, a, b)) = as_f32(c, a, b) {
        let (a_s, b_s) = (Strides::of(a_layout, m, k), Strides::of(b_layout, k, n));
        // SAFETY: the module is built with simd128; lengths were checked above.
        unsafe { gemm_simd::<Wasm128>(c, a, a_s, b, b_s, m, k, n) };
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
#[allow(dead_code)] // unused on wasm without simd128
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
            unsafe { gemm_simd::<Sse2>(c, a, row_major(k), b, row_major(n), m, k, n) };
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: the module is built with simd128; lengths were checked by gemm_acc.
        unsafe { gemm_simd::<Wasm128>(c, a, row_major(k), b, row_major(n), m, k, n) };
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
    unsafe { gemm_simd::<Avx2Fma>(c, a, row_major(k), b, row_major(n), m, k, n) };
}

/// The strides of a row-major operand with `cols` columns.
#[allow(dead_code)] // unused on targets without a SIMD lane type
fn row_major(cols: usize) -> Strides {
    Strides { rs: cols, cs: 1 }
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
    unsafe fn load(p: *const f32) -> Self;
    /// The float at p in every lane, by one broadcasting load.
    unsafe fn load_splat(p: *const f32) -> Self;
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
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 8 readable floats at p.
        Self(unsafe { std::arch::x86_64::_mm256_loadu_ps(p) })
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load_splat(p: *const f32) -> Self {
        // SAFETY: the caller guarantees a readable float at p.
        Self(unsafe { std::arch::x86_64::_mm256_broadcast_ss(&*p) })
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
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 4 readable floats at p.
        Self(unsafe { std::arch::x86_64::_mm_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn load_splat(p: *const f32) -> Self {
        // SAFETY: the caller guarantees a readable float at p.
        Self(unsafe { std::arch::x86_64::_mm_load1_ps(p) })
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
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 4 readable floats at p.
        Self(unsafe { core::arch::wasm32::v128_load(p.cast()) })
    }
    #[inline(always)]
    unsafe fn load_splat(p: *const f32) -> Self {
        // SAFETY: the caller guarantees a readable float at p. One `v128.load32_splat` (a broadcasting load in
        // V8, no shuffle) instead of `f32.load` + `f32x4.splat`.
        Self(unsafe { core::arch::wasm32::v128_load32_splat(p.cast()) })
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

/// Rows of `a` per register tile of [`gemm_simd`]: 4 rows x 2 registers of `c` (8 accumulators, plus 2 of `b`
/// and 1 of `a`: 11 of the 16 SIMD registers V8 has on x86-64, 15 of them allocatable).
const MR: usize = 4;

#[cfg(not(target_arch = "wasm32"))]
thread_local! {
    /// The packed block of `b`, kept between products (an allocation of 128 KiB, zeroed, per product cost
    /// 3% of a training step in wasm).
    static PACKED: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

// wasm32 without atomics has one thread: a plain static (thread_local! works there too, but costs a lookup).
#[cfg(target_arch = "wasm32")]
struct PackedCell(std::cell::Cell<Vec<f32>>);
// SAFETY: the wasm module is built without atomics, so it has exactly one thread.
#[cfg(target_arch = "wasm32")]
unsafe impl Sync for PackedCell {}
#[cfg(target_arch = "wasm32")]
static PACKED_WASM: PackedCell = PackedCell(std::cell::Cell::new(Vec::new()));

/// Runs `f` with a packing buffer of at least `len` values (contents unspecified), reused between calls.
#[allow(dead_code)] // unused on targets without a SIMD lane type
fn with_packed<T>(len: usize, f: impl FnOnce(&mut [f32]) -> T) -> T {
    #[cfg(not(target_arch = "wasm32"))]
    let mut packed = PACKED.with(|p| p.take());
    #[cfg(target_arch = "wasm32")]
    let mut packed = PACKED_WASM.0.take();
    if packed.len() < len {
        packed = vec![0.0; len];
    }
    let result = f(&mut packed[..len]);
    #[cfg(not(target_arch = "wasm32"))]
    PACKED.with(|p| p.set(packed));
    #[cfg(target_arch = "wasm32")]
    PACKED_WASM.0.set(packed);
    result
}

/// Copies op(b)[k0..k0+kc, j0..j0+nc] (op(b) read through `b_s`) into `packed` as ceil(nc/nr) panels of
/// (kc, nr), nr = 2 * V::W, zero-padded on the right. SAFETY (caller): V's CPU feature is available. A transposed `b` is read down its stored rows (contiguous).
#[allow(clippy::too_many_arguments, dead_code)]
#[inline(always)]
unsafe fn pack_panels_strided<V: Lane>(
    packed: &mut [f32],
    b: &[f32],
    b_s: Strides,
    (k0, kc): (usize, usize),
    (j0, nc): (usize, usize),
) {
    let nr = 2 * V::W;
    for p in 0..nc.div_ceil(nr) {
        let panel = &mut packed[p * kc * nr..(p + 1) * kc * nr];
        let (jp, cols) = (j0 + p * nr, nr.min(nc - p * nr));
        if b_s.cs == 1 && cols == nr {
            // Two registers per row: `copy_from_slice` of 8 floats is a call to `memory.copy` in wasm, which
            // V8 runs out of line (it was 7% of a training step).
            for kk in 0..kc {
                let src = b[(k0 + kk) * b_s.rs + jp..][..nr].as_ptr();
                let dst = panel[kk * nr..(kk + 1) * nr].as_mut_ptr();
                // SAFETY: src and dst each hold nr = 2 * V::W floats (the slices above); V's feature is there.
                unsafe {
                    V::load(src).store(dst);
                    V::load(src.add(V::W)).store(dst.add(V::W));
                }
            }
        } else if b_s.cs == 1 {
            for kk in 0..kc {
                let src = &b[(k0 + kk) * b_s.rs + jp..][..cols];
                let dst = &mut panel[kk * nr..(kk + 1) * nr];
                dst[..cols].copy_from_slice(src);
                dst[cols..].fill(0.0);
            }
        } else {
            for jj in 0..nr {
                if jj < cols {
                    let src = &b[(jp + jj) * b_s.cs + k0 * b_s.rs..];
                    for kk in 0..kc {
                        panel[kk * nr + jj] = src[kk * b_s.rs];
                    }
                } else {
                    for kk in 0..kc {
                        panel[kk * nr + jj] = 0.0;
                    }
                }
            }
        }
    }
}

/// The blocked gemm with an MR x (2 * V::W) register tile: c (M, N) += op(a) (M, K) @ op(b) (K, N), the
/// operands read through their strides.
/// SAFETY (caller): V's CPU feature is available; every index (i, j) < (rows, cols) of op(a) and op(b) maps
/// inside its slice through its strides, and c holds M*N values.
#[inline(always)]
#[allow(dead_code, clippy::too_many_arguments)] // unused on targets without a SIMD lane type
unsafe fn gemm_simd<V: Lane>(
    c: &mut [f32],
    a: &[f32],
    a_s: Strides,
    b: &[f32],
    b_s: Strides,
    m: usize,
    k: usize,
    n: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let nr = 2 * V::W;
    with_packed(KC * NC.next_multiple_of(nr), |packed| {
        for j0 in (0..n).step_by(NC) {
            let nc = NC.min(n - j0);
            for k0 in (0..k).step_by(KC) {
                let kc = KC.min(k - k0);
                // SAFETY: V's feature is available (the caller's contract).
                unsafe { pack_panels_strided::<V>(packed, b, b_s, (k0, kc), (j0, nc)) };
                for p in 0..nc.div_ceil(nr) {
                    let panel = &packed[p * kc * nr..(p + 1) * kc * nr];
                    let (j, cols) = (j0 + p * nr, nr.min(nc - p * nr));
                    let mut i = 0;
                    // SAFETY: rows i..i+MR <= m, columns j..j+cols <= n, depth k0+kc <= k, panel is kc * nr.
                    unsafe {
                        while i + MR <= m {
                            micro_4::<V>(c, a, a_s, panel, (i, j, cols), (k0, kc), n);
                            i += MR;
                        }
                        while i < m {
                            micro_1::<V>(c, a, a_s, panel, (i, j, cols), (k0, kc), n);
                            i += 1;
                        }
                    }
                }
            }
        }
    });
}

/// c[i, j..j+cols] += the two registers (lo, hi) of a tile row.
#[inline(always)]
#[allow(dead_code)]
unsafe fn add_row<V: Lane>(c: &mut [f32], at: usize, cols: usize, lo: V, hi: V) {
    // SAFETY: the caller guarantees c[at..at + cols] is inside c.
    unsafe {
        let cp = c.as_mut_ptr().add(at);
        if cols == 2 * V::W {
            V::add(V::load(cp), lo).store(cp);
            let cp = cp.add(V::W);
            V::add(V::load(cp), hi).store(cp);
        } else {
            let mut tile = [0.0f32; 32];
            lo.store(tile.as_mut_ptr());
            hi.store(tile.as_mut_ptr().add(V::W));
            for (jj, &t) in tile[..cols].iter().enumerate() {
                *cp.add(jj) += t;
            }
        }
    }
}

/// c[i..i+4, j..j+cols] += op(a)[i..i+4, k0..k0+kc] @ panel (kc, 2 * V::W). The tile is spelled out as eight
/// variables (not an array looped over), so it stays in registers without relying on the optimizer to unroll
/// (the wasm build is optimized for size, which unrolls little).
#[allow(clippy::too_many_arguments, dead_code)]
#[inline(always)]
unsafe fn micro_4<V: Lane>(
    c: &mut [f32],
    a: &[f32],
    a_s: Strides,
    panel: &[f32],
    (i, j, cols): (usize, usize, usize),
    (k0, kc): (usize, usize),
    n: usize,
) {
    debug_assert!(panel.len() >= kc * 2 * V::W && cols <= 2 * V::W && j + cols <= n);
    // SAFETY: see gemm_simd; every pointer below stays inside the slice it was taken from.
    unsafe {
        let z = V::zero();
        let (mut c00, mut c01, mut c10, mut c11) = (z, z, z, z);
        let (mut c20, mut c21, mut c30, mut c31) = (z, z, z, z);
        let mut ap = a.as_ptr().add(i * a_s.rs + k0 * a_s.cs);
        let rs = a_s.rs;
        let mut bp = panel.as_ptr();
        for _ in 0..kc {
            let (b0, b1) = (V::load(bp), V::load(bp.add(V::W)));
            let x = V::load_splat(ap);
            c00 = V::mul_add(x, b0, c00);
            c01 = V::mul_add(x, b1, c01);
            let x = V::load_splat(ap.add(rs));
            c10 = V::mul_add(x, b0, c10);
            c11 = V::mul_add(x, b1, c11);
            let x = V::load_splat(ap.add(2 * rs));
            c20 = V::mul_add(x, b0, c20);
            c21 = V::mul_add(x, b1, c21);
            let x = V::load_splat(ap.add(3 * rs));
            c30 = V::mul_add(x, b0, c30);
            c31 = V::mul_add(x, b1, c31);
            ap = ap.add(a_s.cs);
            bp = bp.add(2 * V::W);
        }
        add_row(c, i * n + j, cols, c00, c01);
        add_row(c, (i + 1) * n + j, cols, c10, c11);
        add_row(c, (i + 2) * n + j, cols, c20, c21);
        add_row(c, (i + 3) * n + j, cols, c30, c31);
    }
}

/// One row of [`micro_4`], for the rows left over at the bottom.
#[allow(clippy::too_many_arguments, dead_code)]
#[inline(always)]
unsafe fn micro_1<V: Lane>(
    c: &mut [f32],
    a: &[f32],
    a_s: Strides,
    panel: &[f32],
    (i, j, cols): (usize, usize, usize),
    (k0, kc): (usize, usize),
    n: usize,
) {
    debug_assert!(panel.len() >= kc * 2 * V::W && cols <= 2 * V::W && j + cols <= n);
    // SAFETY: see gemm_simd; every pointer below stays inside the slice it was taken from.
    unsafe {
        let (mut c00, mut c01) = (V::zero(), V::zero());
        let mut ap = a.as_ptr().add(i * a_s.rs + k0 * a_s.cs);
        let mut bp = panel.as_ptr();
        for _ in 0..kc {
            let x = V::load_splat(ap);
            c00 = V::mul_add(x, V::load(bp), c00);
            c01 = V::mul_add(x, V::load(bp.add(V::W)), c01);
            ap = ap.add(a_s.cs);
            bp = bp.add(2 * V::W);
        }
        add_row(c, i * n + j, cols, c00, c01);
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
            unsafe { gemm_simd::<Sse2>(&mut sse, &a, row_major(k), &b, row_major(n), m, k, n) };
            // The SIMD kernel reading both operands transposed, through their strides (the wasm path).
            let mut sse_t = c0.clone();
            let (a_s, b_s) = (
                Strides::of(Layout::Transposed, m, k),
                Strides::of(Layout::Transposed, k, n),
            );
            // SAFETY: SSE2 is part of x86-64; a_t is (K, M) and b_t (N, K), as the strides say.
            unsafe { gemm_simd::<Sse2>(&mut sse_t, &a_t, a_s, &b_t, b_s, m, k, n) };
            let mut avx_t = c0.clone();
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has AVX2 and FMA (checked above); the strides as above.
                unsafe { gemm_simd::<Avx2Fma>(&mut avx_t, &a, row_major(k), &b_t, b_s, m, k, n) };
            } else {
                avx_t.clone_from(&expected);
            }
            // Sums of up to 300 products of values in [-1, 1], reordered: 1e-5 relative + 5e-5 absolute.
            for (got, name) in [
                (&dispatched, "dispatched"),
                (&blocked, "blocked"),
                (&strided, "transposed operands"),
                (&strided_f64, "transposed operands in f64"),
                (&scalar, "scalar"),
                (&sse, "sse2"),
                (&sse_t, "sse2, both operands transposed"),
                (&avx_t, "avx2, b transposed"),
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
