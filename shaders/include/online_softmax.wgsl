// online_softmax: a softmax over scores that arrive in tiles and are not kept (Milakov & Gimelshein 2018), shared
// by attention_forward_fused (one query row per invocation) and attention_decode (one row per workgroup).
//
// The state is the running max m of the scores seen so far and the running sum l of exp(score - m). A tile's
// exponentials are taken against m_new = max(m, the tile's max); folding them in rescales l by
// alpha = exp(m_old - m_new), and the caller rescales whatever else it accumulated against the old max (the
// weighted sum of values) by the same alpha. At the end a weight is exp(score - m) / l, and the row's
// log-sum-exp is m + log(l).

#include "include/prelude.wgsl"

struct OnlineSoftmax {
    m: f32, // running max; LOWEST before the first tile, so that alpha = exp(LOWEST - m_new) underflows to 0
    l: f32, // running sum of exp(score - m)
}

fn online_softmax_start() -> OnlineSoftmax {
    return OnlineSoftmax(LOWEST, 0.0);
}

// Folds in a tile whose exponentials exp(score - m_new) sum to tile_sum; returns alpha.
fn online_softmax_fold(state: ptr<function, OnlineSoftmax>, m_new: f32, tile_sum: f32) -> f32 {
    let alpha = exp((*state).m - m_new);
    (*state).l = (*state).l * alpha + tile_sum;
    (*state).m = m_new;
    return alpha;
}

// log(sum over the row of exp(score)), from which a weight is recomputed as exp(score - lse).
fn online_softmax_lse(state: OnlineSoftmax) -> f32 {
    return state.m + log(state.l);
}
