//! Tokenizers: text <-> token ids.
//!
//! Two kinds: a character-level tokenizer ([`char_level`]) and a byte-level BPE ([`bpe`]) as in GPT-2 and
//! minbpe, with optional GPT-2/GPT-4 pre-tokenization ([`pretokenize`]) and special tokens that are never
//! split or merged. Both save to and load from tokenizer.json ([`json`]); the BPE file loads in Hugging
//! Face `tokenizers` and encodes to the same ids. A model stores only ids and uses [`Tokenizer`] to go
//! between text and ids. See docs/tokenizers.md.

pub mod bpe;
pub mod char_level;
pub mod json;
pub mod pretokenize;
mod special;
mod unicode_table;

pub use bpe::{BpeOptions, BpeProgress, BpeReport, BpeStop, BpeTokenizer, MAX_VOCAB_SIZE};
pub use char_level::CharTokenizer;
pub use pretokenize::Pattern;

use crate::Result;

/// The end-of-text token of GPT-2, looked up by [`Tokenizer::eot_id`].
pub const ENDOFTEXT: &str = "<|endoftext|>";

/// A trained or loaded tokenizer.
#[derive(Clone, Debug, PartialEq)]
pub enum Tokenizer {
    Char(CharTokenizer),
    Bpe(BpeTokenizer),
}

/// How well a tokenizer compresses a text.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TokenizerStats {
    pub vocab_size: usize,
    pub characters: usize,
    pub bytes: usize,
    pub tokens: usize,
    /// tokens / characters (lower is better).
    pub tokens_per_char: f64,
    /// UTF-8 bytes / tokens: the compression ratio (higher is better).
    pub bytes_per_token: f64,
}

/// Learns a character tokenizer from `corpus`.
pub fn train_char(corpus: &str) -> Result<Tokenizer> {
    char_level::train_char(corpus).map(Tokenizer::Char)
}

/// Learns a byte-level BPE from `corpus`; `progress` returns false to cancel (`Error::Cancelled`).
pub fn train_bpe(
    corpus: &str,
    options: &BpeOptions,
    progress: impl FnMut(&BpeProgress) -> bool,
) -> Result<Tokenizer> {
    bpe::train_bpe(corpus, options, progress).map(Tokenizer::Bpe)
}

/// [`train_bpe`], with the report of how training ended (the vocabulary full, or no pair left to merge).
pub fn train_bpe_report(
    corpus: &str,
    options: &BpeOptions,
    progress: impl FnMut(&BpeProgress) -> bool,
) -> Result<(Tokenizer, BpeReport)> {
    bpe::train_bpe_report(corpus, options, progress).map(|(t, report)| (Tokenizer::Bpe(t), report))
}

impl Tokenizer {
    pub fn encode(&self, text: &str) -> Vec<u32> {
        match self {
            Tokenizer::Char(t) => t.encode(text),
            Tokenizer::Bpe(t) => t.encode(text),
        }
    }

    /// The text of `ids`. Bytes that end inside a multi-byte character decode to U+FFFD; an id outside
    /// the vocabulary is an error.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        match self {
            Tokenizer::Char(t) => t.decode(ids),
            Tokenizer::Bpe(t) => t.decode(ids),
        }
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::Char(t) => t.vocab_size(),
            Tokenizer::Bpe(t) => t.vocab_size(),
        }
    }

    /// "char" or "bpe".
    pub fn kind(&self) -> &'static str {
        match self {
            Tokenizer::Char(_) => "char",
            Tokenizer::Bpe(_) => "bpe",
        }
    }

    /// The id of a special token (`<|endoftext|>`, `[PAD]`, ..), if this tokenizer has it.
    pub fn special_id(&self, content: &str) -> Option<u32> {
        match self {
            Tokenizer::Char(_) => None,
            Tokenizer::Bpe(t) => t
                .special_tokens()
                .iter()
                .find(|(s, _)| s == content)
                .map(|&(_, id)| id),
        }
    }

    /// The id of `<|endoftext|>`, if present.
    pub fn eot_id(&self) -> Option<u32> {
        self.special_id(ENDOFTEXT)
    }

    /// The special tokens (content, id); for the char tokenizer, none.
    pub fn special_tokens(&self) -> Vec<(String, u32)> {
        match self {
            Tokenizer::Char(_) => Vec::new(),
            Tokenizer::Bpe(t) => t.special_tokens().to_vec(),
        }
    }

    /// A readable form of one token for display: text as is, with a space shown as `␣`, newline, tab
    /// and carriage return as `\n` `\t` `\r`, other control characters and bytes that are not whole UTF-8
    /// characters as `<0xE2>`. Special tokens as they are; the char tokenizer's unknown token as `<unk>`.
    /// An unknown id shows as `<unknown id N>`.
    pub fn token_display(&self, id: u32) -> String {
        match self {
            Tokenizer::Char(t) => match t.chars().get(id as usize) {
                Some(&c) => display_bytes(c.to_string().as_bytes()),
                None if id == t.unk_id() => char_level::UNK_DISPLAY.to_string(),
                None => format!("<unknown id {id}>"),
            },
            Tokenizer::Bpe(t) => match t.token_bytes(id) {
                Some(b) if t.is_special(id) => String::from_utf8_lossy(b).into_owned(),
                Some(b) => display_bytes(b),
                None => format!("<unknown id {id}>"),
            },
        }
    }

    /// Saves as tokenizer.json (Hugging Face byte-level BPE, or our char format).
    pub fn to_json(&self) -> String {
        match self {
            Tokenizer::Char(t) => json::char_to_json(t),
            Tokenizer::Bpe(t) => json::bpe_to_json(t),
        }
    }

    /// Loads tokenizer.json written by [`Tokenizer::to_json`] or a Hugging Face byte-level BPE.
    pub fn from_json(text: &str) -> Result<Tokenizer> {
        json::from_json(text)
    }

    pub fn stats(&self, text: &str) -> TokenizerStats {
        let tokens = self.encode(text).len();
        let characters = text.chars().count();
        TokenizerStats {
            vocab_size: self.vocab_size(),
            characters,
            bytes: text.len(),
            tokens,
            tokens_per_char: if characters == 0 {
                0.0
            } else {
                tokens as f64 / characters as f64
            },
            bytes_per_token: if tokens == 0 {
                0.0
            } else {
                text.len() as f64 / tokens as f64
            },
        }
    }
}

/// The readable form of a token's bytes (what `token_display` shows): spaces as ␣, stray bytes as <0xE2>.
pub fn display_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                ' ' => out.push('␣'),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("<0x{b:02X}>"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("<0x{b:02X}>"));
        }
    }
    out
}

#[cfg(test)]
mod bpe_tests;
#[cfg(test)]
mod tests;
