//! parallel: how the fast CPU kernels use the machine: threads ([`par_chunks`]) and SIMD width
//! ([`multiversion!`]).
//!
//! Natively the pieces run on rayon's pool (`RAYON_NUM_THREADS`, default every core); in the wasm module,
//! which has one thread, they run in order on it. The caller cuts the work into pieces of a size it fixes
//! (never from the thread count), and every output value is written by exactly one piece with the same
//! arithmetic whichever thread runs it: results do not depend on the number of threads.

#[cfg(not(target_arch = "wasm32"))]
use rayon::prelude::*;

#[cfg(not(target_arch = "wasm32"))]
thread_local! {
    /// Whether this thread is running a piece of a parallel kernel (whose products then stay on it).
    static IN_PIECE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the caller runs inside a piece of [`par_chunks`] and friends: the matrix products of a piece run
/// on its own thread (the pieces already keep every thread busy).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn in_piece() -> bool {
    IN_PIECE.with(|x| x.get())
}

/// Runs one piece, marked as such for [`in_piece`].
#[inline(always)]
fn piece<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let outer = IN_PIECE.with(|x| x.replace(true));
        let result = f();
        IN_PIECE.with(|x| x.set(outer));
        result
    }
    #[cfg(target_arch = "wasm32")]
    f()
}

use super::float::Float;

/// Calls `f(i, chunk)` for the i-th `len`-sized chunk of `out` (the last may be shorter), in parallel.
pub(crate) fn par_chunks<A: Send>(
    out: &mut [A],
    len: usize,
    f: impl Fn(usize, &mut [A]) + Sync + Send,
) {
    let len = len.max(1);
    #[cfg(not(target_arch = "wasm32"))]
    out.par_chunks_mut(len)
        .enumerate()
        .for_each(|(i, x)| piece(|| f(i, x)));
    #[cfg(target_arch = "wasm32")]
    out.chunks_mut(len)
        .enumerate()
        .for_each(|(i, x)| piece(|| f(i, x)));
}

/// Calls `f(i, a_chunk, b_chunk)` for the i-th chunks of `a` (`len_a` long) and `b` (`len_b` long), which
/// must cut into the same number of chunks, in parallel.
pub(crate) fn par_chunks2<A: Send, B: Send>(
    a: &mut [A],
    len_a: usize,
    b: &mut [B],
    len_b: usize,
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync + Send,
) {
    let (len_a, len_b) = (len_a.max(1), len_b.max(1));
    debug_assert_eq!(a.len().div_ceil(len_a), b.len().div_ceil(len_b));
    #[cfg(not(target_arch = "wasm32"))]
    a.par_chunks_mut(len_a)
        .zip(b.par_chunks_mut(len_b))
        .enumerate()
        .for_each(|(i, (x, y))| piece(|| f(i, x, y)));
    #[cfg(target_arch = "wasm32")]
    a.chunks_mut(len_a)
        .zip(b.chunks_mut(len_b))
        .enumerate()
        .for_each(|(i, (x, y))| piece(|| f(i, x, y)));
}

/// Calls `f(i, a_chunk, b_chunk, c_chunk)` for the i-th chunks of three slices, as [`par_chunks2`].
#[allow(clippy::type_complexity)]
pub(crate) fn par_chunks3<A: Send, B: Send, C: Send>(
    (a, len_a): (&mut [A], usize),
    (b, len_b): (&mut [B], usize),
    (c, len_c): (&mut [C], usize),
    f: impl Fn(usize, &mut [A], &mut [B], &mut [C]) + Sync + Send,
) {
    let (len_a, len_b, len_c) = (len_a.max(1), len_b.max(1), len_c.max(1));
    debug_assert_eq!(a.len().div_ceil(len_a), b.len().div_ceil(len_b));
    debug_assert_eq!(a.len().div_ceil(len_a), c.len().div_ceil(len_c));
    #[cfg(not(target_arch = "wasm32"))]
    a.par_chunks_mut(len_a)
        .zip(b.par_chunks_mut(len_b))
        .zip(c.par_chunks_mut(len_c))
        .enumerate()
        .for_each(|(i, ((x, y), z))| piece(|| f(i, x, y, z)));
    #[cfg(target_arch = "wasm32")]
    a.chunks_mut(len_a)
        .zip(b.chunks_mut(len_b))
        .zip(c.chunks_mut(len_c))
        .enumerate()
        .for_each(|(i, ((x, y), z))| piece(|| f(i, x, y, z)));
}

/// The sum of f(x) over `x` in 8 interleaved partial sums, which vectorize (one running sum cannot: its
/// additions must happen in order). The order is fixed by the length alone.
#[inline(always)]
pub(crate) fn sum_lanes<R: Float>(x: &[R], f: impl Fn(R) -> R) -> R {
    let mut acc = [R::ZERO; 8];
    let chunks = x.chunks_exact(8);
    let mut tail = R::ZERO;
    for &v in chunks.remainder() {
        tail += f(v);
    }
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f(v);
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// a . b in 8 interleaved partial sums (see [`sum_lanes`]).
#[inline(always)]
pub(crate) fn dot_lanes<R: Float>(a: &[R], b: &[R]) -> R {
    let n = a.len().min(b.len());
    let mut acc = [R::ZERO; 8];
    let (ca, cb) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    let mut tail = R::ZERO;
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Rows per piece so that a piece holds about `target` values (at least one row).
pub(crate) fn rows_per_piece(row_len: usize, target: usize) -> usize {
    (target / row_len.max(1)).max(1)
}

/// Defines `fn name<R: Float>(args) { body }` compiled up to three times on x86-64: with AVX-512, with
/// AVX2+FMA, and for the baseline (SSE2), the widest one the CPU has picked at run time, so that the loops in
/// `body` vectorize as wide as the machine allows (the crate is built for baseline x86-64). Elsewhere (wasm
/// with simd128, other targets) the body is compiled once. The compiler vectorizes without reassociating
/// (no fast-math), so every version computes the same bits.
macro_rules! multiversion {
    ($(#[$meta:meta])* fn $name:ident<R: Float>($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        fn $name<R: Float>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body<R: Float>($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512<R: Float>($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2<R: Float>($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl") {
                    // SAFETY: the CPU has the features (checked on the line above).
                    return unsafe { avx512($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has the features (checked on the line above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use multiversion;
