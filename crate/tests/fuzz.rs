//! Fuzz-style property tests (issue 9): tokenizer encode/decode/train, tokenizer.json import and
//! safetensors import on arbitrary and mutated input. Every case must return `Ok` or an `Err` with a
//! message; a panic fails the test. Case counts are capped so each test runs in a few seconds, so CI
//! runs them on every build; raise `PROPTEST_CASES` locally for a longer run.
//!
//!   cargo test -p transformer-playground --test fuzz

use proptest::prelude::*;
use transformer_playground::model::weights::{load_safetensors, save_safetensors};
use transformer_playground::model::{Gpt, ModelConfig};
use transformer_playground::tokenizer::{self, BpeOptions, Pattern, Tokenizer};

const CORPUS: &str = "Once upon a time, a small fox found a red ball. The fox said: \"Hello!\" \u{e9}\u{1f600}\n\
                      It's 2026; numbers 12345 and tabs\tand  spaces.";

fn cases(n: u32) -> ProptestConfig {
    // PROPTEST_CASES overrides the count for a longer local run.
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(n);
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn char_tok() -> Tokenizer {
    tokenizer::train_char(CORPUS).expect("char tokenizer trains")
}

fn bpe_tok(pattern: Pattern, specials: &[&str]) -> Tokenizer {
    let options = BpeOptions {
        vocab_size: 256 + specials.len() + 40,
        pattern,
        special_tokens: specials.iter().map(|s| s.to_string()).collect(),
    };
    tokenizer::train_bpe(CORPUS, &options, |_| true).expect("bpe trains")
}

fn tokenizers() -> Vec<Tokenizer> {
    vec![
        char_tok(),
        bpe_tok(Pattern::None, &[]),
        bpe_tok(Pattern::Gpt2, &["<|endoftext|>"]),
        bpe_tok(Pattern::Gpt4, &["<|endoftext|>", "[PAD]"]),
    ]
}

fn tiny_config(vocab_size: usize) -> ModelConfig {
    ModelConfig {
        vocab_size,
        n_layer: 1,
        n_head: 2,
        n_embd: 8,
        block_size: 8,
        ..ModelConfig::reference(vocab_size)
    }
}

/// A valid file: a tiny model with a tokenizer in its metadata.
fn valid_file() -> Vec<u8> {
    let tok = char_tok();
    let model = Gpt::<f32>::new(tiny_config(tok.vocab_size()), 3).expect("model");
    save_safetensors(&model, Some(&tok.to_json())).expect("save")
}

fn header_len(bytes: &[u8]) -> usize {
    u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

/// The file with its JSON header replaced by `header` (the length prefix updated to match).
fn with_header(bytes: &[u8], header: &[u8]) -> Vec<u8> {
    let n = header_len(bytes);
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

/// A safetensors file with no tensors and `config` as its model config.
fn file_with_config(config_json: &str) -> Vec<u8> {
    let header =
        serde_json::json!({ "__metadata__": { "format": "pt", "model_config": config_json } });
    let header = serde_json::to_vec(&header).unwrap();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out
}

fn assert_message(e: &transformer_playground::Error) {
    assert!(
        e.to_string().len() > 5,
        "an error must say what was wrong: {e:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tokenizers

proptest! {
    #![proptest_config(cases(1000))]

    /// Encoding any string gives ids inside the vocabulary, and decoding them gives the text back
    /// (char tokenizers map unseen characters to <unk>, so only BPE round-trips exactly).
    #[test]
    fn encode_decode_any_string(text in any::<String>()) {
        for tok in tokenizers() {
            let ids = tok.encode(&text);
            let v = tok.vocab_size() as u32;
            prop_assert!(ids.iter().all(|&id| id < v), "{} id out of range", tok.kind());
            let back = tok.decode(&ids);
            prop_assert!(back.is_ok(), "{}: decode of its own ids failed: {:?}", tok.kind(), back);
            if matches!(tok, Tokenizer::Bpe(_)) {
                prop_assert_eq!(back.unwrap(), text.clone());
            }
        }
    }

    /// Decoding arbitrary ids never panics: in-vocabulary ids decode, others give an error naming the id.
    #[test]
    fn decode_any_ids(ids in prop::collection::vec(prop_oneof![0u32..400, any::<u32>()], 0..64)) {
        for tok in tokenizers() {
            let v = tok.vocab_size() as u32;
            match tok.decode(&ids) {
                Ok(_) => prop_assert!(ids.iter().all(|&id| id < v), "{} decoded an out-of-range id", tok.kind()),
                Err(e) => {
                    assert_message(&e);
                    prop_assert!(ids.iter().any(|&id| id >= v), "{}: in-range ids failed: {e}", tok.kind());
                }
            }
            for &id in &ids {
                let _ = tok.token_display(id);
            }
        }
    }

    /// Any string through a char tokenizer trained on it round-trips.
    #[test]
    fn char_train_round_trips(text in any::<String>()) {
        match tokenizer::train_char(&text) {
            Ok(tok) => prop_assert_eq!(tok.decode(&tok.encode(&text)).unwrap(), text),
            Err(e) => { assert_message(&e); prop_assert!(text.is_empty(), "{e}"); }
        }
    }
}

proptest! {
    #![proptest_config(cases(300))]

    /// BPE training on small arbitrary corpora with arbitrary vocab sizes and special tokens: Ok (and
    /// then encode/decode round-trips) or a clear error.
    #[test]
    fn bpe_train_any_corpus(
        corpus in ".{0,120}",
        vocab in prop_oneof![0usize..600, any::<usize>()],
        pattern in prop_oneof![Just(Pattern::None), Just(Pattern::Gpt2), Just(Pattern::Gpt4)],
        specials in prop::collection::vec(".{0,6}", 0..3),
    ) {
        let options = BpeOptions { vocab_size: vocab, pattern, special_tokens: specials.clone() };
        match tokenizer::train_bpe(&corpus, &options, |_| true) {
            Ok(tok) => {
                prop_assert!(tok.vocab_size() <= vocab);
                prop_assert_eq!(tok.decode(&tok.encode(&corpus)).unwrap(), corpus.clone());
                let json = tok.to_json();
                prop_assert_eq!(Tokenizer::from_json(&json).unwrap(), tok);
            }
            Err(e) => assert_message(&e),
        }
    }

    /// tokenizer.json import of arbitrary text.
    #[test]
    fn from_json_any_text(text in any::<String>()) {
        if let Err(e) = Tokenizer::from_json(&text) {
            assert_message(&e);
        }
    }

    /// tokenizer.json import of valid files with bytes replaced, inserted or removed. Whatever loads
    /// must then encode and decode without panicking.
    #[test]
    fn from_json_mutated(which in 0usize..4, edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 1..6)) {
        let mut json: Vec<char> = tokenizers()[which].to_json().chars().collect();
        for (at, op, c) in edits {
            let i = at.index(json.len().max(1)).min(json.len());
            match op {
                0 if i < json.len() => json[i] = c,
                1 => json.insert(i, c),
                _ if i < json.len() => { json.remove(i); }
                _ => {}
            }
        }
        let text: String = json.into_iter().collect();
        match Tokenizer::from_json(&text) {
            Ok(tok) => {
                let ids = tok.encode(CORPUS);
                let _ = tok.decode(&ids);
                let _ = tok.decode(&[0, 1, 255, 256, 1000, u32::MAX]);
            }
            Err(e) => assert_message(&e),
        }
    }

    /// tokenizer.json with numbers in it replaced by extreme values (ids, vocab entries, merges).
    #[test]
    fn from_json_numbers(which in 0usize..4, value in prop_oneof![Just(u64::MAX), Just(u32::MAX as u64), Just(65536), Just(0), any::<u64>()], nth in any::<prop::sample::Index>()) {
        let json = tokenizers()[which].to_json();
        let spans: Vec<(usize, usize)> = {
            let b = json.as_bytes();
            let mut v = Vec::new();
            let mut i = 0;
            while i < b.len() {
                if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
                    let s = i;
                    while i < b.len() && b[i].is_ascii_digit() { i += 1; }
                    v.push((s, i));
                } else { i += 1; }
            }
            v
        };
        prop_assume!(!spans.is_empty());
        let (s, e) = spans[nth.index(spans.len())];
        let text = format!("{}{}{}", &json[..s], value, &json[e..]);
        match Tokenizer::from_json(&text) {
            Ok(tok) => {
                let _ = tok.decode(&tok.encode(CORPUS));
            }
            Err(e) => assert_message(&e),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// safetensors import

proptest! {
    #![proptest_config(cases(1000))]

    #[test]
    fn safetensors_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        match load_safetensors(&bytes) {
            Ok(_) => prop_assert!(false, "random bytes loaded as a model"),
            Err(e) => assert_message(&e),
        }
    }

    /// Random bytes behind a plausible length prefix, so the header parser gets exercised.
    #[test]
    fn safetensors_any_header(header in ".{0,200}") {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        if let Err(e) = load_safetensors(&bytes) { assert_message(&e); }
    }
}

proptest! {
    #![proptest_config(cases(300))]

    /// Every truncation of a valid file fails with a message.
    #[test]
    fn safetensors_truncated(at in any::<prop::sample::Index>()) {
        let file = valid_file();
        let cut = at.index(file.len());
        match load_safetensors(&file[..cut]) {
            Ok(_) => prop_assert!(false, "a file cut at {cut} of {} loaded", file.len()),
            Err(e) => assert_message(&e),
        }
    }

    /// A wrong header length prefix.
    #[test]
    fn safetensors_header_length(len in prop_oneof![any::<u64>(), 0u64..4096, Just(u64::MAX), Just(1 << 40)]) {
        let mut file = valid_file();
        let real = header_len(&file) as u64;
        prop_assume!(len != real);
        file[..8].copy_from_slice(&len.to_le_bytes());
        match load_safetensors(&file) {
            Ok(_) => prop_assert!(false, "header length {len} (real {real}) loaded"),
            Err(e) => assert_message(&e),
        }
    }

    /// Flipped bits anywhere in the header (length prefix and JSON).
    #[test]
    fn safetensors_flipped_header_bits(flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4)) {
        let mut file = valid_file();
        let n = 8 + header_len(&file);
        for (at, bit) in flips {
            file[at.index(n)] ^= 1 << bit;
        }
        if let Err(e) = load_safetensors(&file) { assert_message(&e); }
    }

    /// Another dtype in place of F32: rejected with a message naming float32.
    #[test]
    fn safetensors_wrong_dtype(dtype in prop::sample::select(vec!["F16", "BF16", "F64", "I8", "U8", "I32", "I64", "BOOL", "F8_E4M3", "XYZ"]), nth in 0usize..8) {
        let file = valid_file();
        let n = header_len(&file);
        let header = std::str::from_utf8(&file[8..8 + n]).unwrap();
        let hits: Vec<usize> = header.match_indices("\"F32\"").map(|(i, _)| i).collect();
        let i = hits[nth % hits.len()];
        let mutated = format!("{}\"{dtype}\"{}", &header[..i], &header[i + 5..]);
        match load_safetensors(&with_header(&file, mutated.as_bytes())) {
            Ok(_) => prop_assert!(false, "dtype {dtype} loaded"),
            Err(e) => assert_message(&e),
        }
    }

    /// Numbers in the JSON header (offsets, shapes, and the config inside the metadata) replaced by
    /// other values, including ones that overflow when multiplied.
    #[test]
    fn safetensors_mutated_numbers(
        value in prop_oneof![Just(u64::MAX), Just(u32::MAX as u64), Just(1u64 << 32), Just(0), 0u64..64, any::<u64>()],
        nth in any::<prop::sample::Index>(),
    ) {
        let file = valid_file();
        let n = header_len(&file);
        let header = std::str::from_utf8(&file[8..8 + n]).unwrap().to_string();
        let b = header.as_bytes();
        let mut spans = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric() && b[i - 1] != b'_') {
                let s = i;
                while i < b.len() && b[i].is_ascii_digit() { i += 1; }
                spans.push((s, i));
            } else { i += 1; }
        }
        let (s, e) = spans[nth.index(spans.len())];
        let mutated = format!("{}{}{}", &header[..s], value, &header[e..]);
        if let Err(e) = load_safetensors(&with_header(&file, mutated.as_bytes())) { assert_message(&e); }
    }

    /// Random model configs in an otherwise empty file: never allocate the claimed model or panic.
    #[test]
    fn safetensors_config_without_tensors(
        vocab in prop_oneof![1usize..100, any::<u32>().prop_map(|v| v as usize), any::<usize>()],
        n_layer in prop_oneof![1usize..4, any::<usize>()],
        n_head in prop_oneof![1usize..4, any::<usize>()],
        n_embd in prop_oneof![1usize..64, any::<usize>()],
        block_size in prop_oneof![1usize..64, any::<usize>()],
        ffn_mult in prop_oneof![1usize..8, any::<usize>()],
        positional in prop::sample::select(vec!["learned", "sinusoidal", "rope"]),
    ) {
        let config = format!(
            r#"{{"vocab_size":{vocab},"n_layer":{n_layer},"n_head":{n_head},"n_embd":{n_embd},"block_size":{block_size},"ffn_mult":{ffn_mult},"positional":"{positional}"}}"#
        );
        match load_safetensors(&file_with_config(&config)) {
            Ok(_) => prop_assert!(false, "a file without tensors loaded"),
            Err(e) => assert_message(&e),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Named regression and edge cases

#[test]
fn valid_file_loads() {
    let file = valid_file();
    let loaded = load_safetensors(&file).expect("the valid file loads");
    assert_eq!(loaded.model.config, tiny_config(char_tok().vocab_size()));
    assert_eq!(loaded.tokenizer.unwrap(), char_tok().to_json());
}

#[test]
fn config_whose_param_count_overflows_is_an_error() {
    // n_embd * n_embd overflows usize.
    let config = r#"{"vocab_size":2,"n_layer":1,"n_head":1,"n_embd":4294967296,"block_size":1}"#;
    let e = ModelConfig::from_json(config).unwrap_err().to_string();
    assert!(e.contains("parameters") || e.contains("large"), "{e}");
    let e = load_safetensors(&file_with_config(config))
        .err()
        .expect("rejected")
        .to_string();
    assert!(e.contains("config"), "{e}");
}

#[test]
fn huge_config_in_tiny_file_is_rejected_without_allocating() {
    // 450 million parameters would be 1.8 GB; the file has none of them.
    let config = r#"{"vocab_size":60000,"n_layer":1,"n_head":1,"n_embd":4096,"block_size":1}"#;
    assert!(ModelConfig::from_json(config).is_ok());
    let e = load_safetensors(&file_with_config(config))
        .err()
        .expect("rejected")
        .to_string();
    assert!(
        e.contains("transformer.wte.weight") || e.contains("bytes"),
        "{e}"
    );
}

#[test]
fn bpe_vocab_extremes() {
    for (vocab, want) in [
        (10, "too small"),
        (255, "too small"),
        (10_000_000, "above the limit"),
        (usize::MAX, "above the limit"),
    ] {
        let options = BpeOptions {
            vocab_size: vocab,
            pattern: Pattern::Gpt2,
            special_tokens: vec![],
        };
        let e = tokenizer::train_bpe(CORPUS, &options, |_| true)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "vocab {vocab}: {e}");
    }
    let options = BpeOptions {
        vocab_size: 300,
        pattern: Pattern::Gpt2,
        special_tokens: vec![],
    };
    let e = tokenizer::train_bpe("", &options, |_| true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty"), "{e}");
    let e = tokenizer::train_char("").unwrap_err().to_string();
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn decode_out_of_range_ids_names_the_id() {
    for tok in tokenizers() {
        let v = tok.vocab_size() as u32;
        let e = tok.decode(&[0, v, 1]).unwrap_err().to_string();
        assert!(e.contains(&v.to_string()), "{}: {e}", tok.kind());
        let e = tok.decode(&[u32::MAX]).unwrap_err().to_string();
        assert!(e.contains(&u32::MAX.to_string()), "{}: {e}", tok.kind());
    }
}

#[test]
fn config_limits_are_errors_not_allocations() {
    for (config, want) in [
        (
            r#"{"vocab_size":2,"n_layer":100000000,"n_head":1,"n_embd":1,"block_size":1}"#,
            "n_layer",
        ),
        (
            r#"{"vocab_size":2,"n_layer":1,"n_head":1,"n_embd":2,"block_size":4000000000,"positional":"sinusoidal"}"#,
            "block_size",
        ),
        (
            r#"{"vocab_size":2,"n_layer":1,"n_head":1,"n_embd":1,"block_size":1,"ffn_mult":18446744073709551615}"#,
            "parameters",
        ),
    ] {
        let e = ModelConfig::from_json(config).unwrap_err().to_string();
        assert!(e.contains(want), "{config}: {e}");
        assert!(load_safetensors(&file_with_config(config)).is_err());
    }
}
