//! One sort for the whole crate: a stable merge sort compiled three times (u32 and u64 keys, indices under a comparator),
//! instead of the standard library's sorts, which are instantiated anew for every element type and comparator
//! (68 copies, 71 KB of the wasm module before this file). Results are those of std's stable `sort_by`; for
//! the `sort_unstable` calls it replaces, the elements are plain values (numbers, chars, tuples of them), so the
//! order of equal ones cannot be told apart.
//!
//! Speed: O(n log n) like std's; indirect (a call per comparison) for [`sort_by`], direct for [`sort_u32`] and
//! [`sort_u64`], which the BPE trainer uses on its large position lists.

use std::cmp::Ordering;

/// Sorts `v` ascending.
pub fn sort_u32(v: &mut [u32]) {
    merge_sort(v, &mut |a: &u32, b: &u32| a < b);
}

/// Sorts `v` ascending.
pub fn sort_u64(v: &mut [u64]) {
    merge_sort(v, &mut |a: &u64, b: &u64| a < b);
}

/// The indices 0..n in the order `cmp` puts them in (stable: equal ones keep their order).
pub fn sorted_order(n: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    merge_sort(&mut order, &mut |&a: &usize, &b: &usize| {
        cmp(a, b) == Ordering::Less
    });
    order
}

/// Sorts `v` stably by `cmp`, as `v.sort_by(cmp)` does.
pub fn sort_by<T>(v: &mut Vec<T>, mut cmp: impl FnMut(&T, &T) -> Ordering) {
    let order = sorted_order(v.len(), &mut |i, j| cmp(&v[i], &v[j]));
    let mut slots: Vec<Option<T>> = v.drain(..).map(Some).collect();
    v.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

/// Sorts `v` ascending, as `v.sort()` does.
pub fn sort<T: Ord>(v: &mut Vec<T>) {
    sort_by(v, T::cmp);
}

/// Sorts `v` ascending by character, as `v.sort_unstable()` does.
pub fn sort_chars(v: &mut [char]) {
    let mut codes: Vec<u32> = v.iter().map(|&c| c as u32).collect();
    sort_u32(&mut codes);
    for (c, code) in v.iter_mut().zip(codes) {
        // Each code came from a char.
        *c = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
    }
}

/// Sorts `v` ascending, as `v.sort_unstable()` does.
pub fn sort_bytes(v: &mut [u8]) {
    let mut counts = [0usize; 256];
    for &b in v.iter() {
        counts[b as usize] += 1;
    }
    let mut at = 0;
    for (b, &n) in counts.iter().enumerate() {
        v[at..at + n].fill(b as u8);
        at += n;
    }
}

/// Bottom-up stable merge sort: runs of 16 by insertion sort, then merges of doubling width between `v` and a
/// buffer.
fn merge_sort<K: Copy>(v: &mut [K], less: &mut impl FnMut(&K, &K) -> bool) {
    const RUN: usize = 16;
    let n = v.len();
    if n < 2 {
        return;
    }
    for start in (0..n).step_by(RUN) {
        let end = (start + RUN).min(n);
        for i in start + 1..end {
            let x = v[i];
            let mut j = i;
            // Past strictly greater elements only: equal ones keep their order.
            while j > start && less(&x, &v[j - 1]) {
                v[j] = v[j - 1];
                j -= 1;
            }
            v[j] = x;
        }
    }
    if n <= RUN {
        return;
    }
    let mut buf = v.to_vec();
    let mut in_buf = false;
    let mut width = RUN;
    while width < n {
        if in_buf {
            merge_pass(&buf, v, width, less);
        } else {
            merge_pass(v, &mut buf, width, less);
        }
        in_buf = !in_buf;
        width *= 2;
    }
    if in_buf {
        v.copy_from_slice(&buf);
    }
}

/// Merges each pair of sorted runs of `width` in `src` into `dst` (a lone last run is copied).
fn merge_pass<K: Copy>(
    src: &[K],
    dst: &mut [K],
    width: usize,
    less: &mut impl FnMut(&K, &K) -> bool,
) {
    let n = src.len();
    let mut start = 0;
    while start < n {
        let mid = (start + width).min(n);
        let end = (start + 2 * width).min(n);
        let (mut i, mut j) = (start, mid);
        for slot in &mut dst[start..end] {
            // From the right run only when it is strictly less: stable.
            if j < end && (i >= mid || less(&src[j], &src[i])) {
                *slot = src[j];
                j += 1;
            } else {
                *slot = src[i];
                i += 1;
            }
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn sorts_like_std_on_many_lengths() {
        let mut rng = Rng::new(7);
        for n in [0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 100, 257, 1000, 4099] {
            // Few distinct keys, so stability is exercised.
            let keys: Vec<u32> = (0..n).map(|_| rng.below(n / 3 + 2) as u32).collect();
            let mut want = keys.clone();
            want.sort_unstable();
            let mut got = keys.clone();
            sort_u32(&mut got);
            assert_eq!(got, want, "sort_u32, n = {n}");
            let mut wide: Vec<u64> = keys.iter().map(|&k| u64::from(k) << 33 | 5).collect();
            let mut want = wide.clone();
            want.sort_unstable();
            sort_u64(&mut wide);
            assert_eq!(wide, want, "sort_u64, n = {n}");

            let mut pairs: Vec<(u32, usize)> = keys.iter().copied().zip(0..).collect();
            let mut want = pairs.clone();
            want.sort_by_key(|p| std::cmp::Reverse(p.0));
            sort_by(&mut pairs, |a, b| b.0.cmp(&a.0));
            assert_eq!(pairs, want, "sort_by (stable), n = {n}");

            let mut bytes: Vec<u8> = keys.iter().map(|&k| k as u8).collect();
            let mut want = bytes.clone();
            want.sort_unstable();
            sort_bytes(&mut bytes);
            assert_eq!(bytes, want, "sort_bytes, n = {n}");

            let mut chars: Vec<char> = keys
                .iter()
                .map(|&k| char::from_u32(0x41 + k).unwrap())
                .collect();
            let mut want = chars.clone();
            want.sort_unstable();
            sort_chars(&mut chars);
            assert_eq!(chars, want, "sort_chars, n = {n}");

            let mut words: Vec<String> = keys.iter().map(|k| format!("w{}", k % 37)).collect();
            let mut want = words.clone();
            want.sort();
            sort(&mut words);
            assert_eq!(words, want, "sort, n = {n}");
        }
    }
}
