//! Our byte-level BPE saved as tokenizer.json must load in Hugging Face `tokenizers` and encode every
//! string to the same ids, for each pre-tokenization pattern, with special tokens. The GPT-2/GPT-4
//! scanner is also checked chunk by chunk against `tokenizers`' Split (fancy-regex).

use std::str::FromStr;

use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::tokenizer::normalizer::SplitDelimiterBehavior;
use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};
use tplay_bench::{ADVERSARIAL, english_like_text, random_strings};
use transformer_playground::tokenizer::{BpeOptions, Pattern, Tokenizer, train_bpe};

const SPECIALS: &[&str] = &[
    "<|endoftext|>",
    "[PAD]",
    "[MASK]",
    "[BOS]",
    "[EOS]",
    "<a>",
    "<a>b",
];

fn corpus() -> String {
    let mut s = english_like_text(20_000, 7);
    for (i, line) in ADVERSARIAL.iter().chain(ADVERSARIAL).enumerate() {
        s.push_str(line);
        s.push_str(if i % 2 == 0 { "<|endoftext|>" } else { "\n" });
    }
    s
}

fn hf_split(regex: &str) -> Split {
    Split::new(
        SplitPattern::Regex(regex.to_string()),
        SplitDelimiterBehavior::Isolated,
        false,
    )
    .expect("regex compiles")
}

fn hf_chunks(split: &Split, text: &str) -> Vec<String> {
    let mut pre = PreTokenizedString::from(text);
    split.pre_tokenize(&mut pre).expect("split works");
    pre.get_splits(OffsetReferential::Original, OffsetType::Byte)
        .into_iter()
        .map(|(s, _, _)| s.to_string())
        .collect()
}

#[test]
fn split_patterns_match_fancy_regex() {
    let mut inputs: Vec<String> = ADVERSARIAL.iter().map(|s| s.to_string()).collect();
    inputs.extend(random_strings(1500, 24, 1));
    inputs.push(english_like_text(3000, 3));
    for pattern in [Pattern::Gpt2, Pattern::Gpt4] {
        let split = hf_split(pattern.regex().unwrap());
        for s in &inputs {
            let ours: Vec<&str> = pattern.split_to_vec(s);
            assert_eq!(ours, hf_chunks(&split, s), "{pattern:?} on {s:?}");
        }
    }
}

#[test]
fn tokenizer_json_encodes_like_hugging_face() {
    let corpus = corpus();
    let mut inputs: Vec<String> = ADVERSARIAL.iter().map(|s| s.to_string()).collect();
    inputs.extend(random_strings(300, 30, 2));
    inputs.push(english_like_text(5000, 11));
    inputs.push(corpus.clone());
    for pattern in [Pattern::None, Pattern::Gpt2, Pattern::Gpt4] {
        let options = BpeOptions {
            vocab_size: 700,
            pattern,
            special_tokens: SPECIALS.iter().map(|s| s.to_string()).collect(),
        };
        let ours = train_bpe(&corpus, &options, |_| true).expect("training works");
        let json = ours.to_json();
        let hf = tokenizers::Tokenizer::from_str(&json)
            .unwrap_or_else(|e| panic!("tokenizers cannot load our {pattern:?} file: {e}"));
        assert_eq!(hf.get_vocab_size(true), ours.vocab_size());
        for s in &inputs {
            let expected = ours.encode(s);
            let got = hf
                .encode(s.as_str(), false)
                .expect("HF encodes")
                .get_ids()
                .to_vec();
            assert_eq!(got, expected, "{pattern:?} on {s:?}");
        }
        // And our loader reads back the same tokenizer.
        assert_eq!(Tokenizer::from_json(&json).unwrap(), ours);
    }
}

/// A file written the way GPT-2's own tokenizer.json is (ByteLevel with its built-in regex, merges as
/// pairs, empty prefix/suffix strings) loads in ours as the GPT-2 pattern and encodes like HF.
#[test]
fn foreign_gpt2_style_file_loads_and_agrees() {
    let options = BpeOptions {
        vocab_size: 600,
        pattern: Pattern::Gpt2,
        special_tokens: vec!["<|endoftext|>".into()],
    };
    let trained = train_bpe(&corpus(), &options, |_| true).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&trained.to_json()).unwrap();
    v["pre_tokenizer"] = serde_json::json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    v["model"]["continuing_subword_prefix"] = serde_json::json!("");
    v["model"]["end_of_word_suffix"] = serde_json::json!("");
    let pairs: Vec<serde_json::Value> = v["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let (l, r) = m.as_str().unwrap().split_once(' ').unwrap();
            serde_json::json!([l, r])
        })
        .collect();
    v["model"]["merges"] = serde_json::Value::Array(pairs);
    let json = v.to_string();
    let ours = Tokenizer::from_json(&json).expect("ours loads a GPT-2 style file");
    assert_eq!(ours, trained);
    let hf = tokenizers::Tokenizer::from_str(&json).expect("HF loads it");
    let mut inputs: Vec<String> = ADVERSARIAL.iter().map(|s| s.to_string()).collect();
    inputs.extend(random_strings(200, 30, 5));
    for s in &inputs {
        let got = hf.encode(s.as_str(), false).unwrap().get_ids().to_vec();
        assert_eq!(got, ours.encode(s), "{s:?}");
    }
}
