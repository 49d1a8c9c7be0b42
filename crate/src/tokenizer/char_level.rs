//! Character-level tokenizer: one token per Unicode scalar value seen in the corpus (sorted, so ids are
//! stable), plus one unknown token, the last id, for characters the corpus did not have. The unknown
//! token decodes to U+FFFD, so decode(encode(s)) == s holds for text made of the corpus's characters.

use super::bpe::{FastMap, MAX_VOCAB_SIZE};
use crate::{Error, Result};

/// How the unknown token is displayed.
pub const UNK_DISPLAY: &str = "<unk>";

#[derive(Clone, Debug)]
pub struct CharTokenizer {
    /// id -> char, sorted by code point. The unknown token is id `chars.len()`.
    pub(crate) chars: Vec<char>,
    ids: FastMap<char, u32>,
}

impl PartialEq for CharTokenizer {
    fn eq(&self, other: &Self) -> bool {
        self.chars == other.chars
    }
}

impl CharTokenizer {
    /// Builds the tokenizer from its characters (sorted and deduplicated here).
    pub(crate) fn from_chars(mut chars: Vec<char>) -> Result<CharTokenizer> {
        crate::sort::sort_chars(&mut chars);
        chars.dedup();
        if chars.len() + 1 > MAX_VOCAB_SIZE {
            return Err(Error::InvalidInput(format!(
                "{} distinct characters is more than the vocabulary limit of {MAX_VOCAB_SIZE} (with the unknown token)",
                chars.len()
            )));
        }
        let ids = chars
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32))
            .collect();
        Ok(CharTokenizer { chars, ids })
    }

    pub fn vocab_size(&self) -> usize {
        self.chars.len() + 1
    }

    /// The id of the unknown token (the last one).
    pub fn unk_id(&self) -> u32 {
        self.chars.len() as u32
    }

    /// The characters, in id order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    pub fn encode(&self, text: &str) -> Vec<u32> {
        let unk = self.unk_id();
        text.chars()
            .map(|c| self.ids.get(&c).copied().unwrap_or(unk))
            .collect()
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let mut out = String::with_capacity(ids.len());
        for &id in ids {
            match self.chars.get(id as usize) {
                Some(&c) => out.push(c),
                None if id == self.unk_id() => out.push('\u{FFFD}'),
                None => {
                    return Err(Error::InvalidInput(format!(
                        "token id {id} is not in the vocabulary (ids go from 0 to {})",
                        self.unk_id()
                    )));
                }
            }
        }
        Ok(out)
    }
}

/// Learns a character vocabulary: every distinct character of `corpus`.
pub fn train_char(corpus: &str) -> Result<CharTokenizer> {
    if corpus.is_empty() {
        crate::invalid_input!(
            "the corpus is empty: a character tokenizer needs some text to take its characters from"
        );
    }
    let mut seen: FastMap<char, ()> = FastMap::default();
    for c in corpus.chars() {
        seen.insert(c, ());
    }
    CharTokenizer::from_chars(seen.into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_round_trip_and_unknown() {
        let t = train_char("hello wörld 👍\n").unwrap();
        assert_eq!(t.vocab_size(), 11 + 1);
        assert_eq!(t.chars()[0], '\n');
        let ids = t.encode("wörld 👍");
        assert_eq!(t.decode(&ids).unwrap(), "wörld 👍");
        let ids = t.encode("hex");
        assert_eq!(ids[2], t.unk_id());
        assert_eq!(t.decode(&ids).unwrap(), "he\u{FFFD}");
        let err = t.decode(&[12]).unwrap_err().to_string();
        assert!(
            err.contains("token id 12 is not in the vocabulary"),
            "{err}"
        );
        let too_many: String = (0x100u32..0x100 + 70000)
            .filter_map(char::from_u32)
            .collect();
        let err = train_char(&too_many).unwrap_err().to_string();
        assert!(
            err.contains("more than the vocabulary limit of 65536"),
            "{err}"
        );
        let err = train_char("").unwrap_err().to_string();
        assert!(err.contains("the corpus is empty"), "{err}");
    }
}
