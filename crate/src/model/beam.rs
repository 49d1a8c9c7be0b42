//! Beam search over any step function (the encoder-decoder's decode step with its KV caches, or a table in
//! the tests): keep the `width` best partial outputs by total log-probability; a hypothesis ends at `eos` or
//! at `max_len` tokens; finished hypotheses are ranked as Hugging Face's `BeamSearchScorer` ranks them,
//! score = sum of log-probabilities / length^length_penalty (length in generated tokens, `eos` included).
//! length_penalty 0 is the plain total; above 0 it favours longer outputs. Width 1 is greedy decoding.

use crate::{Result, invalid_input};

/// One finished output: its tokens (without `bos` and `eos`) and its score.
#[derive(Clone, Debug, PartialEq)]
pub struct Beam {
    pub tokens: Vec<u32>,
    pub log_prob: f64,
    pub score: f64,
}

/// `step(state, token)` feeds `token` to a copy of a hypothesis's state and returns the log-probabilities
/// (V) of the next token. Returns the finished hypotheses, best first (at most `width`).
pub fn beam_search<S: Clone>(
    start: S,
    bos: u32,
    eos: u32,
    width: usize,
    max_len: usize,
    length_penalty: f64,
    mut step: impl FnMut(&mut S, u32) -> Result<Vec<f64>>,
) -> Result<Vec<Beam>> {
    if width == 0 {
        invalid_input!("the beam width must be at least 1");
    }
    let score = |log_prob: f64, len: usize| log_prob / (len.max(1) as f64).powf(length_penalty);
    // Live hypotheses: (state after feeding its last token, tokens, total log-probability, last token).
    let mut live: Vec<(S, Vec<u32>, f64, u32)> = vec![(start, Vec::new(), 0.0, bos)];
    let mut done: Vec<Beam> = Vec::new();
    for len in 1..=max_len {
        let mut candidates: Vec<(usize, u32, f64)> = Vec::new();
        let mut states = Vec::with_capacity(live.len());
        for (i, (state, _, total, last)) in live.iter().enumerate() {
            let mut state = state.clone();
            let log_probs = step(&mut state, *last)?;
            for (token, &lp) in log_probs.iter().enumerate() {
                candidates.push((i, token as u32, total + lp));
            }
            states.push(state);
        }
        // Best first; ties by hypothesis then token, so the result does not depend on sort stability.
        crate::sort::sort_by(&mut candidates, |a, b| {
            b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1))
        });
        let mut next = Vec::with_capacity(width);
        for (i, token, total) in candidates {
            if next.len() == width {
                break;
            }
            let mut tokens = live[i].1.clone();
            if token == eos {
                done.push(Beam {
                    score: score(total, len),
                    tokens,
                    log_prob: total,
                });
                continue;
            }
            tokens.push(token);
            if len == max_len {
                done.push(Beam {
                    score: score(total, len),
                    tokens,
                    log_prob: total,
                });
                continue;
            }
            next.push((states[i].clone(), tokens, total, token));
        }
        // Stop when no live hypothesis can still beat the worst of `width` finished ones (their totals only
        // fall; with a length penalty above 0 keep going to max_len, as HF's early_stopping=False does not).
        live = next;
        if live.is_empty() {
            break;
        }
        if length_penalty <= 0.0 && done.len() >= width {
            let mut scores: Vec<f64> = done.iter().map(|b| b.score).collect();
            crate::sort::sort_by(&mut scores, |a, b| b.total_cmp(a));
            let worst_kept = scores[width - 1];
            if live.iter().all(|(_, _, total, _)| *total <= worst_kept) {
                break;
            }
        }
    }
    crate::sort::sort_by(&mut done, |a, b| b.score.total_cmp(&a.score));
    done.truncate(width);
    Ok(done)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// A hand-made model over tokens {0: eos, 1: a, 2: b} whose next-token probabilities depend on the
    /// output so far: greedy takes `a` (0.6) and then must end badly; the beam finds `b b` (0.4 * 0.9 * 0.9).
    fn table(prefix: &[u32]) -> Vec<f64> {
        let p: [f64; 3] = match prefix {
            [] => [0.0, 0.6, 0.4],
            [1] => [0.3, 0.35, 0.35],
            [1, _] => [1.0, 0.0, 0.0],
            [2] => [0.05, 0.05, 0.9],
            [2, 2] => [0.9, 0.05, 0.05],
            _ => [1.0, 0.0, 0.0],
        };
        p.iter().map(|x| x.ln()).collect()
    }

    fn run(width: usize, alpha: f64) -> Vec<Beam> {
        beam_search(Vec::<u32>::new(), 9, 0, width, 5, alpha, |prefix, token| {
            if token != 9 {
                prefix.push(token);
            }
            Ok(table(prefix))
        })
        .expect("search")
    }

    #[test]
    fn width_one_is_greedy_and_a_wider_beam_finds_the_better_output() {
        // Greedy: a (0.6), then eos/a/b at 0.3/0.35/0.35 -> a (first of equals), then eos: 0.6 * 0.35 * 1.
        let greedy = run(1, 0.0);
        assert_eq!(greedy[0].tokens, [1, 1]);
        assert!((greedy[0].log_prob - (0.6f64 * 0.35).ln()).abs() < 1e-12);
        // Width 2: b b eos = 0.4 * 0.9 * 0.9 = 0.324 beats 0.21 and a eos = 0.18.
        let beams = run(2, 0.0);
        assert_eq!(beams[0].tokens, [2, 2]);
        assert!((beams[0].log_prob - (0.4f64 * 0.9 * 0.9).ln()).abs() < 1e-12);
        assert_eq!(beams.len(), 2);
        // Length penalty 1 divides by the length (eos counted): b b scores ln(0.324)/3.
        let beams = run(2, 1.0);
        assert!((beams[0].score - (0.324f64).ln() / 3.0).abs() < 1e-12);
        assert!(beam_search(0u8, 9, 0, 0, 5, 0.0, |_, _| Ok(vec![0.0])).is_err());
    }
}
