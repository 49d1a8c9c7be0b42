//! Test support: finite-difference gradient checks in f64.
//!
//! Every op test builds a scalar loss `L = sum(out * w)` with fixed random `w` (so `dout = w`), runs the
//! op's backward, and compares each analytic derivative with the central difference
//! `(L(x + eps) - L(x - eps)) / (2 eps)`. In f64 with eps = 1e-5 the truncation error is about eps^2 * L'''
//! (1e-10) and the rounding error about 1e-16 * |L| / eps (1e-11), so a tolerance of 1e-6 + 1e-5 * |g|
//! leaves room for neither a wrong formula nor a missing term.

/// `sum(out * w)`: the scalar the checks differentiate.
pub fn dot(out: &[f64], w: &[f64]) -> f64 {
    out.iter().zip(w).map(|(o, w)| o * w).sum()
}

/// Compares `analytic` with central differences of `loss` around `x`, element by element.
#[track_caller]
pub fn check_gradient(
    what: &str,
    x: &[f64],
    analytic: &[f64],
    mut loss: impl FnMut(&[f64]) -> f64,
) {
    assert_eq!(x.len(), analytic.len(), "{what}: gradient length");
    let eps = 1e-5;
    let mut probe = x.to_vec();
    let mut checked_nonzero = 0;
    for i in 0..x.len() {
        probe[i] = x[i] + eps;
        let plus = loss(&probe);
        probe[i] = x[i] - eps;
        let minus = loss(&probe);
        probe[i] = x[i];
        let numeric = (plus - minus) / (2.0 * eps);
        let tol = 1e-6 + 1e-5 * numeric.abs();
        assert!(
            (numeric - analytic[i]).abs() <= tol,
            "{what}[{i}]: analytic {} vs finite difference {numeric} (|diff| {:e} > {tol:e})",
            analytic[i],
            (numeric - analytic[i]).abs()
        );
        if numeric.abs() > 1e-6 {
            checked_nonzero += 1;
        }
    }
    // A check over an all-zero gradient proves nothing.
    assert!(
        checked_nonzero > 0,
        "{what}: only {checked_nonzero} of {} derivatives are non-zero; the test does not exercise the op",
        x.len()
    );
}
