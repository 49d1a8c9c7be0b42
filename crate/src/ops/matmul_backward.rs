//! matmul_backward: the backward pass of a linear layer `out = inp @ weight^T + bias`.
//!
//! Intuition: each output channel's error flows back to the inputs through that channel's weights
//! (dinp = dout @ weight), and each weight's gradient is its input times its output error summed over rows
//! (dweight = dout^T @ inp).
//!
//! Gradient rule of the crate (as in llm.c): parameter gradients (`dweight`, `dbias`) accumulate with `+=`,
//! so micro-batches and tied weights add up; activation gradients (`dinp`) are assigned with `=`.

use super::float::Float;
use super::matmul_forward::{gemm_acc, transpose};

/// CPU reference.
/// dinp (N, C) = dout (N, OC) @ weight (OC, C);  dweight (OC, C) += dout^T @ inp (N, C);
/// dbias (OC) += sum over rows of dout.
#[allow(clippy::too_many_arguments)]
pub fn matmul_backward_cpu<R: Float>(
    dinp: &mut [R],
    dweight: &mut [R],
    dbias: Option<&mut [R]>,
    dout: &[R],
    inp: &[R],
    weight: &[R],
    n: usize,
    c: usize,
    oc: usize,
) {
    for row in 0..n {
        let dout_row = &dout[row * oc..(row + 1) * oc];
        for i in 0..c {
            let mut sum = R::ZERO;
            for o in 0..oc {
                sum += dout_row[o] * weight[o * c + i];
            }
            dinp[row * c + i] = sum;
        }
    }
    for o in 0..oc {
        for i in 0..c {
            let mut sum = R::ZERO;
            for row in 0..n {
                sum += dout[row * oc + o] * inp[row * c + i];
            }
            dweight[o * c + i] += sum;
        }
    }
    if let Some(dbias) = dbias {
        for o in 0..oc {
            let mut sum = R::ZERO;
            for row in 0..n {
                sum += dout[row * oc + o];
            }
            dbias[o] += sum;
        }
    }
}

/// The fast version of [`matmul_backward_cpu`], same contract, built on the blocked kernel: dout is
/// transposed once (N*OC work against N*C*OC) so that dweight is also a row-major product.
#[allow(clippy::too_many_arguments)]
pub fn matmul_backward_fast_cpu<R: Float>(
    dinp: &mut [R],
    dweight: &mut [R],
    dbias: Option<&mut [R]>,
    dout: &[R],
    inp: &[R],
    weight: &[R],
    n: usize,
    c: usize,
    oc: usize,
) {
    dinp[..n * c].fill(R::ZERO);
    gemm_acc(dinp, dout, weight, n, oc, c);
    let dout_t = transpose(&dout[..n * oc], n, oc); // (OC, N)
    gemm_acc(dweight, &dout_t, inp, oc, n, c);
    if let Some(dbias) = dbias {
        for row in dout[..n * oc].chunks_exact(oc.max(1)) {
            for (db, &d) in dbias[..oc].iter_mut().zip(row) {
                *db += d;
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::gpu::testing::{TestRng, assert_close};
    use crate::ops::gradcheck::{Rng64, check_gradient, dot};
    use crate::ops::matmul_forward::matmul_forward_cpu;

    #[test]
    fn gradients_match_finite_differences() {
        // B=2, T=7 -> N=14 rows; C=12 in; V=37 out.
        let (n, c, oc) = (14, 12, 37);
        let mut rng = Rng64::new(11);
        let (inp, weight, bias, w) = (
            rng.vec(n * c),
            rng.vec(oc * c),
            rng.vec(oc),
            rng.vec(n * oc),
        );
        let loss = |inp: &[f64], weight: &[f64], bias: &[f64]| {
            let mut out = vec![0.0; n * oc];
            matmul_forward_cpu(&mut out, inp, weight, Some(bias), n, c, oc);
            dot(&out, &w)
        };
        let mut dinp = vec![f64::NAN; n * c]; // assigned: its old contents must not matter
        let mut dweight = vec![0.0; oc * c];
        let mut dbias = vec![0.0; oc];
        matmul_backward_cpu(
            &mut dinp,
            &mut dweight,
            Some(&mut dbias),
            &w,
            &inp,
            &weight,
            n,
            c,
            oc,
        );
        check_gradient("matmul dinp", &inp, &dinp, |x| loss(x, &weight, &bias));
        check_gradient("matmul dweight", &weight, &dweight, |x| {
            loss(&inp, x, &bias)
        });
        check_gradient("matmul dbias", &bias, &dbias, |x| loss(&inp, &weight, x));

        // The fast version gives the same gradients, and parameter gradients accumulate.
        let mut dinp2 = vec![f64::NAN; n * c];
        let mut dweight2 = dweight.clone();
        let mut dbias2 = dbias.clone();
        matmul_backward_fast_cpu(
            &mut dinp2,
            &mut dweight2,
            Some(&mut dbias2),
            &w,
            &inp,
            &weight,
            n,
            c,
            oc,
        );
        for (a, b) in dinp2.iter().zip(&dinp) {
            assert!((a - b).abs() < 1e-12, "fast dinp {a} vs {b}");
        }
        for (a, b) in dweight2.iter().zip(&dweight) {
            assert!(
                (a - 2.0 * b).abs() < 1e-12,
                "fast dweight accumulates: {a} vs 2*{b}"
            );
        }
        for (a, b) in dbias2.iter().zip(&dbias) {
            assert!(
                (a - 2.0 * b).abs() < 1e-12,
                "fast dbias accumulates: {a} vs 2*{b}"
            );
        }
    }

    #[test]
    fn fast_matches_reference_in_f32_on_blocked_shapes() {
        let mut rng = TestRng::new(5);
        for &(n, c, oc) in &[(14, 12, 37), (65, 129, 260), (3, 300, 5)] {
            let (inp, weight, dout) = (rng.vec(n * c), rng.vec(oc * c), rng.vec(n * oc));
            let mut expected = (vec![0.0f32; n * c], vec![0.5f32; oc * c], vec![0.25f32; oc]);
            let mut actual = (vec![0.0f32; n * c], vec![0.5f32; oc * c], vec![0.25f32; oc]);
            matmul_backward_cpu(
                &mut expected.0,
                &mut expected.1,
                Some(&mut expected.2),
                &dout,
                &inp,
                &weight,
                n,
                c,
                oc,
            );
            matmul_backward_fast_cpu(
                &mut actual.0,
                &mut actual.1,
                Some(&mut actual.2),
                &dout,
                &inp,
                &weight,
                n,
                c,
                oc,
            );
            // Sums of a few hundred products in [-1, 1] in another order: see the forward test.
            assert_close(&actual.0, &expected.0, 3e-5, 1e-5, "fast dinp");
            assert_close(&actual.1, &expected.1, 3e-5, 1e-5, "fast dweight");
            assert_close(&actual.2, &expected.2, 3e-5, 1e-5, "fast dbias");
        }
    }
}
