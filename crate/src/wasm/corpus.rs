//! The built-in corpora from JavaScript: the list the page shows, and the text of one.

use wasm_bindgen::prelude::*;

use super::to_js;
use crate::corpus::{self, Corpus, Lengths};

/// The largest corpus the page may ask for: more would only fill the tab's memory.
const MAX_BYTES: usize = 64 << 20;

#[derive(serde::Serialize)]
struct CorpusInfo {
    name: &'static str,
    description: &'static str,
}

/// The built-in corpora as `[{name, description}]`, in the order to show them.
#[wasm_bindgen]
pub fn corpora() -> Result<JsValue, JsError> {
    let list: Vec<CorpusInfo> = Corpus::all()
        .iter()
        .map(|c| CorpusInfo {
            name: c.name(),
            description: c.description(),
        })
        .collect();
    serde_wasm_bindgen::to_value(&list).map_err(|e| JsError::new(&e.to_string()))
}

/// The text of the corpus called `name`, from `seed` (a whole number from 0 to 2^53), about `approxBytes`
/// long. `minLen`/`maxLen` (optional, together) set the input lengths of the algorithmic tasks.
#[wasm_bindgen(js_name = generateCorpus)]
pub fn generate_corpus(
    name: &str,
    seed: f64,
    #[wasm_bindgen(js_name = approxBytes)] approx_bytes: usize,
    #[wasm_bindgen(js_name = minLen)] min_len: Option<usize>,
    #[wasm_bindgen(js_name = maxLen)] max_len: Option<usize>,
) -> Result<String, JsError> {
    let corpus = Corpus::from_name(name).map_err(to_js)?;
    // JavaScript numbers hold integers exactly up to 2^53; a seed past that would not be the one typed.
    if !(seed.is_finite() && seed >= 0.0 && seed.fract() == 0.0 && seed <= 9_007_199_254_740_992.0)
    {
        return Err(JsError::new(&format!(
            "the seed must be a whole number from 0 to 9007199254740992 (got {seed})"
        )));
    }
    if approx_bytes > MAX_BYTES {
        return Err(JsError::new(&format!(
            "{approx_bytes} bytes is more than the {MAX_BYTES} a page may generate: ask for less"
        )));
    }
    match (min_len, max_len) {
        (None, None) => Ok(corpus::generate(corpus, seed as u64, approx_bytes)),
        (Some(min), Some(max)) => {
            corpus::generate_with_lengths(corpus, seed as u64, approx_bytes, Lengths { min, max })
                .map_err(to_js)
        }
        _ => Err(JsError::new(
            "give both minLen and maxLen, or neither for the default lengths",
        )),
    }
}
