//! Tokenizers from JavaScript: train (char or byte-level BPE with progress and cancel), encode, decode,
//! save and load tokenizer.json.
//!
//! Training is a synchronous loop: run it in a Web Worker so the page stays responsive. Progress is
//! reported after every merge through the optional callback, which can return `false` to cancel.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::to_js;
use crate::tokenizer::{self as core, BpeOptions, BpeProgress, BpeReport, Pattern};

/// A trained or loaded tokenizer.
#[wasm_bindgen]
pub struct Tokenizer {
    inner: core::Tokenizer,
    /// How BPE training ended, for a tokenizer trained here (not one loaded from tokenizer.json).
    training: Option<BpeReport>,
}

/// The training report as JavaScript sees it: the core's report and its sentence.
#[derive(serde::Serialize)]
struct TrainingView<'a> {
    #[serde(flatten)]
    report: &'a BpeReport,
    message: String,
}

#[wasm_bindgen]
impl Tokenizer {
    /// A character-level tokenizer with every character of `text` (plus an unknown token).
    #[wasm_bindgen(js_name = trainChar)]
    pub fn train_char(text: &str) -> Result<Tokenizer, JsError> {
        let inner = core::train_char(text).map_err(to_js)?;
        Ok(Tokenizer {
            inner,
            training: None,
        })
    }

    /// A byte-level BPE with `vocabSize` tokens (256 bytes + merges + special tokens).
    /// `pattern`: "none", "gpt2" or "gpt4". `onProgress({done, total, merge: [a, b], token, count})` is
    /// called after each merge; returning `false` cancels training (the call then throws "cancelled").
    #[wasm_bindgen(js_name = trainBpe)]
    pub fn train_bpe(
        text: &str,
        #[wasm_bindgen(js_name = vocabSize)] vocab_size: usize,
        pattern: &str,
        #[wasm_bindgen(js_name = specialTokens)] special_tokens: Vec<String>,
        #[wasm_bindgen(js_name = onProgress)] on_progress: Option<js_sys::Function>,
    ) -> Result<Tokenizer, JsError> {
        let options = BpeOptions {
            vocab_size,
            pattern: Pattern::parse(pattern).map_err(to_js)?,
            special_tokens,
        };
        let mut callback_error: Option<String> = None;
        let result = core::train_bpe_report(text, &options, |p: &BpeProgress| {
            let Some(f) = &on_progress else { return true };
            let arg = match serde_wasm_bindgen::to_value(p) {
                Ok(v) => v,
                Err(e) => {
                    callback_error = Some(e.to_string());
                    return false;
                }
            };
            match f.call1(&JsValue::NULL, &arg) {
                Ok(v) => v.as_bool() != Some(false),
                Err(e) => {
                    let message = e
                        .dyn_ref::<js_sys::Error>()
                        .map(|e| String::from(e.message()))
                        .unwrap_or_else(|| format!("{e:?}"));
                    callback_error = Some(format!("the progress callback threw: {message}"));
                    false
                }
            }
        });
        match (result, callback_error) {
            (_, Some(message)) => Err(JsError::new(&message)),
            (r, None) => {
                let (inner, report) = r.map_err(to_js)?;
                Ok(Tokenizer {
                    inner,
                    training: Some(report),
                })
            }
        }
    }

    /// Loads tokenizer.json (ours, or a Hugging Face byte-level BPE).
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(json: &str) -> Result<Tokenizer, JsError> {
        let inner = core::Tokenizer::from_json(json).map_err(to_js)?;
        Ok(Tokenizer {
            inner,
            training: None,
        })
    }

    /// tokenizer.json text.
    #[wasm_bindgen(js_name = toJson)]
    pub fn to_json(&self) -> String {
        self.inner.to_json()
    }

    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.inner.encode(text)
    }

    pub fn decode(&self, ids: Vec<u32>) -> Result<String, JsError> {
        self.inner.decode(&ids).map_err(to_js)
    }

    /// The bytes of token `id` (a character's UTF-8, or a BPE token's bytes), or `undefined` for the unknown
    /// token and ids beyond the vocabulary.
    #[wasm_bindgen(js_name = tokenBytes)]
    pub fn token_bytes(&self, id: u32) -> Option<Vec<u8>> {
        match &self.inner {
            core::Tokenizer::Char(t) => t
                .chars()
                .get(id as usize)
                .map(|c| c.to_string().into_bytes()),
            core::Tokenizer::Bpe(t) => t.token_bytes(id).map(<[u8]>::to_vec),
        }
    }

    /// A readable string for each id (spaces as ␣, stray bytes as <0xE2>), for showing tokens.
    #[wasm_bindgen(js_name = tokenStrings)]
    pub fn token_strings(&self, ids: Vec<u32>) -> Vec<String> {
        ids.iter().map(|&id| self.inner.token_display(id)).collect()
    }

    /// {vocab_size, characters, bytes, tokens, tokens_per_char, bytes_per_token} for `text`.
    pub fn stats(&self, text: &str) -> Result<JsValue, JsError> {
        serde_wasm_bindgen::to_value(&self.inner.stats(text))
            .map_err(|e| JsError::new(&e.to_string()))
    }

    #[wasm_bindgen(getter, js_name = vocabSize)]
    pub fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    /// "char" or "bpe".
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        self.inner.kind().to_string()
    }

    /// The id of a special token, or undefined.
    #[wasm_bindgen(js_name = specialId)]
    pub fn special_id(&self, content: &str) -> Option<u32> {
        self.inner.special_id(content)
    }

    /// BPE's split pattern ("none", "gpt2" or "gpt4"); `undefined` for the char tokenizer.
    #[wasm_bindgen(getter)]
    pub fn pattern(&self) -> Option<String> {
        match &self.inner {
            core::Tokenizer::Char(_) => None,
            core::Tokenizer::Bpe(t) => Some(t.pattern().name().to_string()),
        }
    }

    /// The merges in rank order, flat: (left id, right id, merged id) for each; empty for the char tokenizer.
    pub fn merges(&self) -> Vec<u32> {
        match &self.inner {
            core::Tokenizer::Char(_) => Vec::new(),
            core::Tokenizer::Bpe(t) => t.merges().iter().flat_map(|&(a, b, c)| [a, b, c]).collect(),
        }
    }

    /// How BPE training ended: `{stop: 'vocabularyFull' | 'noPairLeft', vocabAsked, vocabSize, merges,
    /// mergesPossible, firstSingleMerge, mergeCounts, message}`; `undefined` for a tokenizer that was
    /// loaded or is a char tokenizer.
    #[wasm_bindgen(getter)]
    pub fn training(&self) -> Result<JsValue, JsError> {
        let (Some(report), core::Tokenizer::Bpe(t)) = (&self.training, &self.inner) else {
            return Ok(JsValue::UNDEFINED);
        };
        let view = TrainingView {
            report,
            message: report.sentence(t.pattern()),
        };
        // A plain object (the flattened report would otherwise become a Map), counts as numbers.
        view.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .map_err(|e| JsError::new(&e.to_string()))
    }
}
