//! Tests of the whole tokenizer: round trips, tokenizer.json, errors.

use proptest::prelude::*;

use super::*;
use crate::Error;

const ADVERSARIAL: &[&str] = &[
    "",
    " ",
    "   ",
    "\n",
    "\r\n\r\n",
    "a",
    "Hello, world! It's 2024; we'll see. DON'T SHOUT'S",
    "  leading and trailing  ",
    "tabs\tand\u{0B}vertical\u{0C}feeds",
    "日本語のテキスト、漢字とかな。中文也可以。",
    "한국어 텍스트",
    "emoji 👍🏽👨‍👩‍👧‍👦 🇫🇷 flags",
    "combining e\u{301} a\u{308}\u{304} z\u{336}",
    "controls \u{0}\u{1}\u{1F}\u{7F}\u{85}\u{200B}\u{FEFF} end",
    "numbers 1234567 ١٢٣ ⅷ ½",
    "long s: it'ſ and it'S",
    "<|endoftext|>",
    "a<|endoftext|>b<|endoftext|><|endoftext|>",
    "[PAD][MASK] [BOS]x[EOS]",
    "<|endoftext|<|endoftext|>>",
    "\u{10FFFF}\u{E000}\u{FFFD}",
];

const SPECIALS: &[&str] = &["<|endoftext|>", "[PAD]", "[MASK]", "[BOS]", "[EOS]"];

fn corpus() -> String {
    let mut s = String::new();
    for (i, line) in ADVERSARIAL.iter().enumerate() {
        s.push_str(line);
        s.push_str(if i % 3 == 0 { "\n" } else { " <|endoftext|> " });
    }
    s.push_str(&"the quick brown fox jumps over the lazy dog. ".repeat(20));
    s
}

fn trained(pattern: Pattern, vocab_size: usize) -> Tokenizer {
    let options = BpeOptions {
        vocab_size,
        pattern,
        special_tokens: SPECIALS.iter().map(|s| s.to_string()).collect(),
    };
    train_bpe(&corpus(), &options, |_| true).expect("training works")
}

fn all_bpe() -> Vec<Tokenizer> {
    [Pattern::None, Pattern::Gpt2, Pattern::Gpt4]
        .into_iter()
        .map(|p| trained(p, 400))
        .collect()
}

#[test]
fn bpe_round_trips_adversarial_strings() {
    for t in all_bpe() {
        for s in ADVERSARIAL {
            let ids = t.encode(s);
            assert_eq!(t.decode(&ids).unwrap(), *s, "{s:?}");
            assert!(ids.iter().all(|&id| (id as usize) < t.vocab_size()));
        }
        // Training text compresses: fewer tokens than bytes.
        let text = corpus();
        assert!(t.encode(&text).len() * 2 < text.len());
    }
}

#[test]
fn specials_encode_to_their_ids() {
    let t = trained(Pattern::Gpt4, 400);
    let eot = t.eot_id().expect("has <|endoftext|>");
    assert_eq!(eot, 395);
    assert_eq!(t.special_id("[EOS]"), Some(399));
    assert_eq!(t.encode("<|endoftext|>"), vec![eot]);
    let ids = t.encode("[PAD][MASK]");
    assert_eq!(ids, vec![396, 397]);
    assert_eq!(t.token_display(eot), "<|endoftext|>");
}

#[test]
fn char_round_trips_corpus_strings() {
    let t = train_char(&corpus()).unwrap();
    for s in ADVERSARIAL {
        assert_eq!(t.decode(&t.encode(s)).unwrap(), *s);
    }
    assert_eq!(t.encode("\u{1F600}").len(), 1); // unseen: the unknown token
    assert_eq!(t.decode(&t.encode("\u{1F600}")).unwrap(), "\u{FFFD}");
}

#[test]
fn token_display_is_readable() {
    let t = trained(Pattern::None, 300);
    assert_eq!(t.token_display(b'a' as u32), "a");
    assert_eq!(t.token_display(b' ' as u32), "␣");
    assert_eq!(t.token_display(b'\n' as u32), "\\n");
    assert_eq!(t.token_display(0xE2), "<0xE2>");
    assert_eq!(t.token_display(0), "<0x00>");
    assert_eq!(t.token_display(100_000), "<unknown id 100000>");
    let c = train_char("ab").unwrap();
    assert_eq!(c.token_display(2), "<unk>");
}

#[test]
fn decode_inside_multibyte_char_gives_replacement() {
    let t = trained(Pattern::None, 256 + SPECIALS.len());
    let ids = t.encode("👍");
    assert_eq!(ids.len(), 4);
    for k in 1..4 {
        assert_eq!(t.decode(&ids[..k]).unwrap(), "\u{FFFD}");
    }
    assert_eq!(t.decode(&ids[1..]).unwrap(), "\u{FFFD}\u{FFFD}\u{FFFD}");
}

#[test]
fn stats_measure_compression() {
    let t = trained(Pattern::Gpt2, 400);
    let text = "the quick brown fox jumps over the lazy dog. ";
    let s = t.stats(text);
    assert_eq!(s.vocab_size, 400);
    assert_eq!(s.characters, 45);
    assert_eq!(s.bytes, 45);
    assert_eq!(s.tokens, t.encode(text).len());
    assert!(s.bytes_per_token > 3.0, "{s:?}");
    assert!((s.tokens_per_char - s.tokens as f64 / 45.0).abs() < 1e-12);
}

#[test]
fn json_round_trip_is_identical() {
    let mut all = all_bpe();
    all.push(train_char(&corpus()).unwrap());
    for t in all {
        let json = t.to_json();
        let back = Tokenizer::from_json(&json).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.to_json(), json);
        for s in ADVERSARIAL {
            assert_eq!(back.encode(s), t.encode(s));
        }
    }
}

#[test]
fn json_has_hugging_face_shape() {
    let t = trained(Pattern::Gpt4, 300);
    let v: serde_json::Value = serde_json::from_str(&t.to_json()).unwrap();
    assert_eq!(v["model"]["type"], "BPE");
    assert_eq!(v["model"]["vocab"]["Ġ"], 32);
    assert_eq!(v["model"]["vocab"]["<|endoftext|>"], 295);
    assert_eq!(
        v["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"],
        pretokenize::GPT4_REGEX
    );
    assert_eq!(v["pre_tokenizer"]["pretokenizers"][1]["use_regex"], false);
    assert_eq!(v["added_tokens"][0]["special"], true);
    assert!(
        v.get("transformer_playground").is_none(),
        "Hugging Face rejects unknown top-level keys"
    );
    let merges = v["model"]["merges"].as_array().unwrap();
    assert_eq!(merges.len(), 300 - 256 - SPECIALS.len());
}

fn load_err(text: &str) -> String {
    match Tokenizer::from_json(text) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{text} loaded"),
    }
}

#[test]
fn malformed_json_gives_clear_errors() {
    assert!(load_err("{not json").contains("tokenizer.json is not valid JSON"));
    assert!(load_err("[1, 2]").contains("must be a JSON object"));
    assert!(load_err("{}").contains("has no \"model\""));
    assert!(
        load_err(r#"{"model": {"type": "WordPiece"}}"#)
            .contains("model type \"WordPiece\" is not supported")
    );
    assert!(
        load_err(r#"{"transformer_playground": {"format": "xyz"}}"#)
            .contains("unknown transformer_playground format")
    );
    assert!(
        load_err(r#"{"transformer_playground": {"format": "char", "chars": ["ab"]}}"#)
            .contains("exactly one character")
    );
    assert!(
        load_err(r#"{"transformer_playground": {"format": "char", "chars": 5}}"#)
            .contains("\"chars\" must be an array")
    );

    let good = trained(Pattern::Gpt2, 300).to_json();
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut w = v.clone();
        f(&mut w);
        load_err(&w.to_string())
    };
    assert!(
        edit(&|w| w["model"]["vocab"] = serde_json::json!([1]))
            .contains("model.vocab must be an object")
    );
    assert!(
        edit(&|w| w["model"]["vocab"]["a"] = serde_json::json!("x"))
            .contains("must be a non-negative integer id")
    );
    assert!(edit(&|w| w["model"]["merges"] = serde_json::json!(["a"])).contains("two token names"));
    assert!(
        edit(&|w| w["model"]["merges"] = serde_json::json!(["a zzz"])).contains("not in the vocab")
    );
    assert!(
        edit(&|w| w["model"]["vocab"]
            .as_object_mut()
            .unwrap()
            .remove("a")
            .map(|_| ())
            .unwrap())
        .contains("no token has id 97")
    );
    assert!(
        edit(&|w| w["model"]["vocab"]["→"] = serde_json::json!(5))
            .contains("not spelled with the byte-level alphabet")
    );
    assert!(
        edit(
            &|w| w["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] =
                serde_json::json!("\\w+")
        )
        .contains("unsupported Split regex")
    );
    assert!(
        edit(&|w| w["pre_tokenizer"] = serde_json::Value::Null)
            .contains("unsupported pre_tokenizer")
    );
    assert!(
        edit(&|w| w["added_tokens"][0]["id"] = serde_json::json!(100000))
            .contains("added_tokens[0] needs")
    );
    v["model"]["vocab"]["a"] = serde_json::json!(98);
    assert!(load_err(&v.to_string()).contains("id 98 is given to two different tokens"));
}

#[test]
fn special_spelled_like_byte_name_is_rejected() {
    let options = BpeOptions {
        vocab_size: 300,
        pattern: Pattern::None,
        special_tokens: vec!["Ġ".into()],
    };
    let err = train_bpe("a b c", &options, |_| true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spelled like the byte-level name of token 32"),
        "{err}"
    );
}

#[test]
fn cancel_returns_cancelled() {
    let options = BpeOptions {
        vocab_size: 400,
        pattern: Pattern::Gpt4,
        special_tokens: vec![],
    };
    let r = train_bpe(&corpus(), &options, |p| p.done < 10);
    assert!(matches!(r, Err(Error::Cancelled)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn bpe_round_trips_any_string(s in "\\PC*|[\\x00-\\x20 a'sS\\r\\n\\t\\u{3000}é👍<|>endoftx]{0,40}") {
        thread_local! { static T: Vec<Tokenizer> = all_bpe(); }
        T.with(|all| {
            for t in all {
                prop_assert_eq!(t.decode(&t.encode(&s)).unwrap(), s.clone());
            }
            Ok(())
        })?;
    }

    #[test]
    fn pretokenize_chunks_concatenate(s in any::<String>()) {
        for p in [Pattern::Gpt2, Pattern::Gpt4] {
            prop_assert_eq!(p.split_to_vec(&s).concat(), s.clone());
        }
    }

    #[test]
    fn training_on_random_text_round_trips(s in "[ab c\\n'é]{1,60}") {
        let options = BpeOptions { vocab_size: 280, pattern: Pattern::Gpt4, special_tokens: vec!["[PAD]".into()] };
        let t = train_bpe(&s, &options, |_| true).unwrap();
        prop_assert_eq!(t.decode(&t.encode(&s)).unwrap(), s.clone());
        let back = Tokenizer::from_json(&t.to_json()).unwrap();
        prop_assert_eq!(back.encode(&s), t.encode(&s));
    }
}
