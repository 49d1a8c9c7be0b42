//! tokenizer.json: Hugging Face's format for byte-level BPE, our own clearly marked format for the
//! character tokenizer.
//!
//! A BPE file is what Hugging Face `tokenizers` loads as a byte-level BPE: model `BPE` with `vocab`
//! (token name -> id) and `merges` (`"left right"` in rank order); token names spell bytes with GPT-2's
//! byte-to-unicode mapping (`Ġ` for a space). The pre-tokenizer is `ByteLevel` with `use_regex: false`
//! for no pattern, or a `Sequence` of a `Split` with the GPT-2/GPT-4 regex (`Isolated`) and then
//! `ByteLevel` with `use_regex: false`. Special tokens are `added_tokens` (and in the vocab, spelled
//! as they are).
//!
//! A BPE file carries no `"transformer_playground"` key: Hugging Face's deserializer stops at any
//! unknown top-level key (it reads the key but not its value, and serde_json then fails with
//! "expected `,` or `}`"), and everything we need is in the standard fields anyway (the pattern is read
//! back from the pre-tokenizer). The key is still accepted when present. The char tokenizer, which
//! Hugging Face cannot load anyway, is stored under that key.

use serde_json::{Map, Value, json};

use super::Tokenizer;
use super::bpe::{BpeTokenizer, FastMap, MAX_VOCAB_SIZE};
use super::char_level::CharTokenizer;
use super::pretokenize::{GPT2_REGEX, GPT4_REGEX, Pattern};
use crate::{Error, Result};

/// The key of our own fields in tokenizer.json.
pub const OWN_KEY: &str = "transformer_playground";

/// GPT-2's byte-to-unicode mapping: printable Latin-1 bytes stand for themselves, the others
/// (controls, space, 0x7F..0xA0, 0xAD) are shifted to U+0100 and up, so every byte is a visible char.
pub fn byte_to_char_table() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut shifted = 0u32;
    for b in 0..256u32 {
        let printable =
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        let c = if printable {
            b
        } else {
            shifted += 1;
            255 + shifted
        };
        table[b as usize] = char::from_u32(c).expect("valid code point");
    }
    table
}

/// The byte-level name of a token: its bytes through GPT-2's mapping (`" the"` -> `"Ġthe"`).
pub fn byte_level_name(bytes: &[u8], table: &[char; 256]) -> String {
    bytes.iter().map(|&b| table[b as usize]).collect()
}

/// Fails when a special token is spelled like the byte-level name of another token: the vocab of
/// tokenizer.json maps names to ids and could not hold both.
pub(crate) fn check_special_names(t: &BpeTokenizer) -> Result<()> {
    let table = byte_to_char_table();
    for (id, bytes) in t.vocab.iter().enumerate() {
        if t.is_special(id as u32) {
            continue;
        }
        let name = byte_level_name(bytes, &table);
        if let Some((s, _)) = t.specials.iter().find(|(s, _)| *s == name) {
            crate::invalid_input!(
                "special token {s:?} is spelled like the byte-level name of token {id}; choose another special token"
            );
        }
    }
    Ok(())
}

pub(crate) fn bpe_to_json(t: &BpeTokenizer) -> String {
    let table = byte_to_char_table();
    let names: Vec<String> = (0..t.vocab.len())
        .map(
            |id| match t.specials.iter().find(|&&(_, s)| s as usize == id) {
                Some((content, _)) => content.clone(),
                None => byte_level_name(&t.vocab[id], &table),
            },
        )
        .collect();
    let mut vocab = Map::new();
    for (id, name) in names.iter().enumerate() {
        vocab.insert(name.clone(), json!(id));
    }
    let merges: Vec<Value> = t
        .merges
        .iter()
        .map(|&(a, b, _)| json!(format!("{} {}", names[a as usize], names[b as usize])))
        .collect();
    let added: Vec<Value> = t
        .specials
        .iter()
        .map(|(content, id)| {
            json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false});
    let pre_tokenizer = match t.pattern.regex() {
        None => byte_level,
        Some(regex) => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false},
            byte_level
        ]}),
    };
    let doc = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merges
        }
    });
    serde_json::to_string_pretty(&doc).expect("JSON values serialise")
}

pub(crate) fn char_to_json(t: &CharTokenizer) -> String {
    let chars: Vec<String> = t.chars.iter().map(|c| c.to_string()).collect();
    let doc = json!({
        OWN_KEY: {
            "format": "char", "version": 1,
            "comment": "transformer-playground character tokenizer: id i is chars[i]; unk_id is the unknown token (decodes to U+FFFD)",
            "chars": chars, "unk_id": t.chars.len()
        }
    });
    serde_json::to_string_pretty(&doc).expect("JSON values serialise")
}

fn format_err(msg: impl Into<String>) -> Error {
    Error::Format(msg.into())
}

pub(crate) fn from_json(text: &str) -> Result<Tokenizer> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| format_err(format!("tokenizer.json is not valid JSON: {e}")))?;
    let Some(obj) = doc.as_object() else {
        return Err(format_err(
            "tokenizer.json must be a JSON object at the top level",
        ));
    };
    let own_format = obj
        .get(OWN_KEY)
        .and_then(|o| o.get("format"))
        .and_then(Value::as_str);
    match own_format {
        Some("char") => Ok(Tokenizer::Char(char_from_json(&obj[OWN_KEY])?)),
        Some("bpe") | None => match obj.get("model") {
            Some(model) => Ok(Tokenizer::Bpe(bpe_from_json(obj, model)?)),
            None => Err(format_err(
                "tokenizer.json has no \"model\": it is neither a Hugging Face tokenizer nor a transformer-playground one",
            )),
        },
        Some(other) => Err(format_err(format!(
            "unknown transformer_playground format {other:?}: expected \"bpe\" or \"char\""
        ))),
    }
}

fn char_from_json(own: &Value) -> Result<CharTokenizer> {
    let chars = own.get("chars").and_then(Value::as_array).ok_or_else(|| {
        format_err("char tokenizer: \"chars\" must be an array of one-character strings")
    })?;
    let mut out = Vec::with_capacity(chars.len());
    for (i, c) in chars.iter().enumerate() {
        let s = c.as_str().unwrap_or("");
        let mut it = s.chars();
        match (it.next(), it.next()) {
            (Some(ch), None) => out.push(ch),
            _ => {
                return Err(format_err(format!(
                    "char tokenizer: chars[{i}] must be a string of exactly one character, found {c}"
                )));
            }
        }
    }
    let n = out.len();
    let t = CharTokenizer::from_chars(out)?;
    if t.chars.len() != n {
        return Err(format_err(
            "char tokenizer: \"chars\" holds the same character twice",
        ));
    }
    if t.chars
        != chars
            .iter()
            .filter_map(|c| c.as_str()?.chars().next())
            .collect::<Vec<_>>()
    {
        return Err(format_err(
            "char tokenizer: \"chars\" must be sorted by code point",
        ));
    }
    Ok(t)
}

/// Reads the pattern from the pre-tokenizer (ByteLevel alone, or Split + ByteLevel).
fn pattern_from_pre_tokenizer(pre: &Value) -> Result<Pattern> {
    let kind = pre.get("type").and_then(Value::as_str).unwrap_or("");
    let unsupported = || {
        format_err(format!(
            "unsupported pre_tokenizer {pre}: expected ByteLevel, or a Sequence of Split (GPT-2 or GPT-4 regex) and ByteLevel"
        ))
    };
    match kind {
        "ByteLevel" => {
            let use_regex = pre
                .get("use_regex")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            if pre.get("add_prefix_space").and_then(Value::as_bool) == Some(true) {
                return Err(format_err(
                    "ByteLevel pre-tokenizer with add_prefix_space = true is not supported",
                ));
            }
            Ok(if use_regex {
                Pattern::Gpt2
            } else {
                Pattern::None
            })
        }
        "Sequence" => {
            let list = pre
                .get("pretokenizers")
                .and_then(Value::as_array)
                .ok_or_else(unsupported)?;
            let [split, byte_level] = list.as_slice() else {
                return Err(unsupported());
            };
            if pattern_from_pre_tokenizer(byte_level)? != Pattern::None
                || split.get("type").and_then(Value::as_str) != Some("Split")
                || split.get("behavior").and_then(Value::as_str) != Some("Isolated")
                || split.get("invert").and_then(Value::as_bool) == Some(true)
            {
                return Err(unsupported());
            }
            match split
                .get("pattern")
                .and_then(|p| p.get("Regex"))
                .and_then(Value::as_str)
            {
                Some(r) if r == GPT2_REGEX => Ok(Pattern::Gpt2),
                Some(r) if r == GPT4_REGEX => Ok(Pattern::Gpt4),
                _ => Err(format_err(format!(
                    "unsupported Split regex in pre_tokenizer: only the GPT-2 and GPT-4 patterns are known ({})",
                    split.get("pattern").unwrap_or(&Value::Null)
                ))),
            }
        }
        _ => Err(unsupported()),
    }
}

fn bpe_from_json(obj: &Map<String, Value>, model: &Value) -> Result<BpeTokenizer> {
    match model.get("type").and_then(Value::as_str) {
        Some("BPE") => {}
        Some(other) => {
            return Err(format_err(format!(
                "model type {other:?} is not supported: only byte-level BPE (and our char format) can be loaded"
            )));
        }
        None => return Err(format_err("model has no \"type\" string")),
    }
    if !obj.get("normalizer").is_none_or(Value::is_null) {
        return Err(format_err(
            "tokenizer.json has a normalizer; byte-level BPE here supports none",
        ));
    }
    for key in ["dropout", "continuing_subword_prefix", "end_of_word_suffix"] {
        // GPT-2's own file spells "no prefix/suffix" as "".
        if !model
            .get(key)
            .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
        {
            return Err(format_err(format!(
                "BPE model option {key:?} is not supported"
            )));
        }
    }
    let pattern = pattern_from_pre_tokenizer(obj.get("pre_tokenizer").unwrap_or(&Value::Null))?;

    // Special tokens: added_tokens.
    let mut specials: Vec<(String, u32)> = Vec::new();
    if let Some(added) = obj.get("added_tokens") {
        let list = added
            .as_array()
            .ok_or_else(|| format_err("\"added_tokens\" must be an array"))?;
        for (i, a) in list.iter().enumerate() {
            let content = a.get("content").and_then(Value::as_str);
            let id = a.get("id").and_then(Value::as_u64);
            match (content, id) {
                (Some(c), Some(id)) if !c.is_empty() && id < MAX_VOCAB_SIZE as u64 => {
                    specials.push((c.to_string(), id as u32))
                }
                _ => {
                    return Err(format_err(format!(
                        "added_tokens[{i}] needs a non-empty string \"content\" and an integer \"id\" below {MAX_VOCAB_SIZE}"
                    )));
                }
            }
        }
    }
    crate::sort::sort_by(&mut specials, |a, b| a.1.cmp(&b.1));

    // Vocab: name -> id, every id 0..n exactly once (specials may be only in added_tokens).
    let vocab_obj = model
        .get("vocab")
        .and_then(Value::as_object)
        .ok_or_else(|| format_err("model.vocab must be an object mapping token names to ids"))?;
    let char_to_byte: FastMap<char, u8> = byte_to_char_table()
        .iter()
        .enumerate()
        .map(|(b, &c)| (c, b as u8))
        .collect();
    let mut slots: Vec<Option<Vec<u8>>> = Vec::new();
    let mut name_to_id: FastMap<&str, u32> = FastMap::default();
    let put =
        |slots: &mut Vec<Option<Vec<u8>>>, id: u64, bytes: Vec<u8>, name: &str| -> Result<()> {
            if id >= MAX_VOCAB_SIZE as u64 {
                return Err(format_err(format!(
                    "token {name:?} has id {id}, above the vocabulary limit of {MAX_VOCAB_SIZE}"
                )));
            }
            let id = id as usize;
            if slots.len() <= id {
                slots.resize(id + 1, None);
            }
            match &slots[id] {
                Some(existing) if *existing != bytes => Err(format_err(format!(
                    "id {id} is given to two different tokens (one is {name:?})"
                ))),
                _ => {
                    slots[id] = Some(bytes);
                    Ok(())
                }
            }
        };
    for (name, id) in vocab_obj {
        let Some(id) = id.as_u64() else {
            return Err(format_err(format!(
                "model.vocab[{name:?}] must be a non-negative integer id, found {id}"
            )));
        };
        let bytes = match specials.iter().find(|(s, _)| s == name) {
            Some((s, _)) => s.as_bytes().to_vec(),
            None => name
                .chars()
                .map(|c| char_to_byte.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| {
                    format_err(format!(
                        "vocab token {name:?} is not spelled with the byte-level alphabet: this is not a byte-level BPE"
                    ))
                })?,
        };
        put(&mut slots, id, bytes, name)?;
        name_to_id.insert(name.as_str(), id as u32);
    }
    for (s, id) in &specials {
        put(&mut slots, *id as u64, s.as_bytes().to_vec(), s)?;
        name_to_id.insert(s.as_str(), *id);
    }
    let vocab: Vec<Vec<u8>> = slots
        .into_iter()
        .enumerate()
        .map(|(id, s)| {
            s.ok_or_else(|| {
                format_err(format!(
                    "no token has id {id}: ids must run from 0 without gaps"
                ))
            })
        })
        .collect::<Result<_>>()?;

    // Merges: "left right" or ["left", "right"], in rank order.
    let merges_json = model
        .get("merges")
        .and_then(Value::as_array)
        .ok_or_else(|| format_err("model.merges must be an array"))?;
    let mut merges = Vec::with_capacity(merges_json.len());
    for (rank, m) in merges_json.iter().enumerate() {
        let (left, right) = match m {
            Value::String(s) => match s.split_once(' ') {
                Some((l, r)) if !r.contains(' ') => (l.to_string(), r.to_string()),
                _ => {
                    return Err(format_err(format!(
                        "merges[{rank}] {s:?} must be two token names separated by one space"
                    )));
                }
            },
            Value::Array(parts) => match parts.as_slice() {
                [Value::String(l), Value::String(r)] => (l.clone(), r.clone()),
                _ => {
                    return Err(format_err(format!(
                        "merges[{rank}] must be a pair of token names"
                    )));
                }
            },
            _ => {
                return Err(format_err(format!(
                    "merges[{rank}] must be a string or a pair of strings"
                )));
            }
        };
        let lookup = |name: &str| {
            name_to_id.get(name).copied().ok_or_else(|| {
                format_err(format!(
                    "merges[{rank}] names token {name:?}, which is not in the vocab"
                ))
            })
        };
        let a = lookup(&left)?;
        let b = lookup(&right)?;
        let c = lookup(&format!("{left}{right}"))?;
        merges.push((a, b, c));
    }
    let t = BpeTokenizer::from_parts(pattern, vocab, merges, specials)?;
    check_special_names(&t).map_err(|e| format_err(e.to_string()))?;
    Ok(t)
}
