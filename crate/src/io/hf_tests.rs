//! Hugging Face directories both ways, against fixtures that `transformers` and `tokenizers` wrote
//! (crate/tests/fixtures/hf/make_fixtures.py): their logits and ids to 1e-4 here, and our export giving back the
//! very tensors `save_pretrained` wrote.

use serde_json::Value;

use super::Files;
use super::hf::{export_hf, import_hf};
use crate::model::config::{Activation, ModelConfig, Positional};
use crate::model::generate::SampleOptions;
use crate::model::gpt::Gpt;
use crate::tokenizer::{self, BpeOptions, ENDOFTEXT, Pattern, Tokenizer};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hf/tiny-gpt2");
const EXPECTED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/hf/tiny-gpt2-expected.json"
);

pub(crate) fn fixture_files() -> Files {
    std::fs::read_dir(FIXTURE)
        .expect("the fixture directory exists")
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(EXPECTED).unwrap()).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn logits(model: &mut Gpt<f32>, ids: &[u32]) -> Vec<f32> {
    model.forward(ids, None, 1, ids.len(), None).unwrap();
    model.act(model.acts().logits).to_vec()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn transformers_fixture_gives_its_ids_logits_and_greedy_tokens() {
    let mut hf = import_hf(&fixture_files()).unwrap();
    let expected = expected();
    assert_eq!(hf.model.config.vocab_size, 320);
    assert_eq!(hf.model.config.n_layer, 2);
    assert_eq!(
        hf.tokenizer.eot_id(),
        Some(expected["eot_id"].as_u64().unwrap() as u32)
    );
    for case in expected["cases"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        let want_ids = ids(&case["ids"]);
        assert_eq!(hf.tokenizer.encode(prompt), want_ids, "{prompt}");
        assert_eq!(
            hf.tokenizer.decode(&want_ids).unwrap(),
            case["decoded"].as_str().unwrap()
        );
        let want: Vec<f32> = case["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let got = logits(&mut hf.model, &want_ids);
        let diff = max_diff(&got, &want);
        assert!(diff < 1e-4, "{prompt}: logits differ by {diff}");
        let options = SampleOptions {
            max_tokens: 12,
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 1,
            end_token: None,
        };
        let greedy = hf.model.generate(&want_ids, &options).unwrap();
        assert_eq!(greedy, ids(&case["greedy_ids"]), "{prompt}");
    }
}

fn tensors(bytes: &[u8]) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let file = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let mut all: Vec<_> = file
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.shape().to_vec(), v.data().to_vec()))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

#[test]
fn export_of_the_fixture_gives_back_what_save_pretrained_wrote() {
    let fixture = fixture_files();
    let hf = import_hf(&fixture).unwrap();
    let files = export_hf(&hf.model, Some(&hf.tokenizer)).unwrap();
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "config.json",
            "generation_config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json"
        ]
    );
    // The same names, shapes (Conv1D layout) and bits as transformers' own file.
    assert_eq!(
        tensors(&files["model.safetensors"]),
        tensors(&fixture["model.safetensors"])
    );
    let ours: Value = serde_json::from_slice(&files["config.json"]).unwrap();
    let theirs: Value = serde_json::from_slice(&fixture["config.json"]).unwrap();
    for (key, value) in ours.as_object().unwrap() {
        if !["dtype", "attn_pdrop", "embd_pdrop", "resid_pdrop"].contains(&key.as_str()) {
            assert_eq!(Some(value), theirs.get(key), "config.json key {key}");
        }
    }
    // Import of the export: the same model and tokenizer.
    let again = import_hf(&files).unwrap();
    assert_eq!(again.model.params, hf.model.params);
    assert_eq!(again.tokenizer, hf.tokenizer);
}

#[test]
fn names_without_the_transformer_prefix_and_half_precision_load() {
    let mut files = fixture_files();
    let reference = import_hf(&files).unwrap().model.params;
    // As GPT2Model saves them (the hub's gpt2 file): `h.0.attn.c_attn.weight`, plus the old mask buffers.
    let renamed: Vec<(String, Vec<usize>, Vec<u8>)> = tensors(&files["model.safetensors"])
        .into_iter()
        .map(|(n, s, d)| (n.trim_start_matches("transformer.").to_string(), s, d))
        .chain([("h.0.attn.bias".to_string(), vec![1, 1, 2, 2], vec![0; 16])])
        .collect();
    files.insert(
        "model.safetensors".into(),
        write(&renamed, safetensors::Dtype::F32),
    );
    assert_eq!(import_hf(&files).unwrap().model.params, reference);
    // F16: every value rounds to half precision, then loads as those f32 values.
    let halves: Vec<(String, Vec<usize>, Vec<u8>)> = renamed
        .iter()
        .filter(|(n, ..)| n != "h.0.attn.bias")
        .map(|(n, s, d)| {
            let h: Vec<u8> = d
                .chunks_exact(4)
                .flat_map(|b| f32_to_f16(f32::from_le_bytes(b.try_into().unwrap())).to_le_bytes())
                .collect();
            (n.clone(), s.clone(), h)
        })
        .collect();
    files.insert(
        "model.safetensors".into(),
        write(&halves, safetensors::Dtype::F16),
    );
    let half = import_hf(&files).unwrap().model.params;
    let diff = max_diff(&half, &reference);
    assert!(
        diff > 0.0 && diff < 1e-3,
        "half precision differs by {diff}"
    );
}

/// f32 -> f16, round to nearest (normal values only, enough for weights near 0.1).
fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32 - 127 + 15;
    if exp <= 0 {
        return sign; // flush tiny values to zero
    }
    let mant = bits & 0x7f_ffff;
    let rounded = ((exp as u32) << 10 | (mant >> 13)) + ((mant >> 12) & 1);
    sign | rounded as u16
}

fn write(tensors: &[(String, Vec<usize>, Vec<u8>)], dtype: safetensors::Dtype) -> Vec<u8> {
    let views: Vec<_> = tensors
        .iter()
        .map(|(n, s, d)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(dtype, s.clone(), d).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

fn small(config: ModelConfig) -> ModelConfig {
    ModelConfig {
        n_layer: 2,
        n_head: 3,
        n_embd: 12,
        block_size: 16,
        ..config
    }
}

#[test]
fn our_models_round_trip_with_bpe_and_char_tokenizers() {
    let text = "the cat sat on the mat; the dog sat on the log. ".repeat(20);
    let bpe = tokenizer::train_bpe(
        &text,
        &BpeOptions {
            vocab_size: 280,
            pattern: Pattern::parse("gpt4").unwrap(),
            special_tokens: vec![ENDOFTEXT.to_string()],
        },
        |_| true,
    )
    .unwrap();
    let chars = tokenizer::train_char(&text).unwrap();
    for (tok, config) in [
        (&bpe, small(ModelConfig::reference(bpe.vocab_size()))),
        (
            &chars,
            small(ModelConfig {
                activation: Activation::Relu,
                ffn_mult: 2,
                ..ModelConfig::reference(chars.vocab_size() + 3)
            }),
        ),
    ] {
        let mut model = Gpt::<f32>::new(config, 5).unwrap();
        let files = export_hf(&model, Some(tok)).unwrap();
        let hf: Value = serde_json::from_slice(&files["config.json"]).unwrap();
        let mut back = import_hf(&files).unwrap();
        assert_eq!(back.model.config, model.config);
        assert_eq!(back.model.params, model.params);
        assert_eq!(&back.tokenizer, tok);
        let ids = tok.encode("the dog sat");
        assert_eq!(logits(&mut back.model, &ids), logits(&mut model, &ids));
        match tok {
            Tokenizer::Bpe(_) => {
                assert_eq!(hf["activation_function"], "gelu_new");
                assert_eq!(hf["n_inner"], Value::Null);
                assert_eq!(hf["eos_token_id"], tok.eot_id().unwrap());
            }
            Tokenizer::Char(_) => {
                assert_eq!(hf["activation_function"], "relu");
                assert_eq!(hf["n_inner"], 24);
                assert_eq!(hf["eos_token_id"], Value::Null);
            }
        }
    }
}

#[test]
fn configs_gpt2_cannot_express_are_refused_naming_the_difference() {
    let err = |config: ModelConfig| {
        let model = Gpt::<f32>::new(small(config), 1).unwrap();
        export_hf(&model, None).unwrap_err().to_string()
    };
    let base = ModelConfig::reference(20);
    let e = err(ModelConfig {
        positional: Positional::Rope,
        ..base.clone()
    });
    assert!(
        e.contains("cannot be exported as a Hugging Face GPT-2") && e.contains("rotary"),
        "{e}"
    );
    let e = err(ModelConfig {
        positional: Positional::Sinusoidal,
        ..base.clone()
    });
    assert!(e.contains("sinusoidal"), "{e}");
    let e = err(ModelConfig {
        bias: false,
        ..base.clone()
    });
    assert!(e.contains("no biases"), "{e}");
    // A masked-language model reads both ways: GPT2LMHeadModel cannot.
    let e = err(ModelConfig {
        objective: crate::model::Objective::Mlm,
        attention_mask: crate::ops::attention_mask::AttentionMask::Bidirectional,
        ..base.clone()
    });
    assert!(e.contains("attention mask") && e.contains("causal"), "{e}");
    let model = Gpt::<f32>::new(small(base), 1).unwrap();
    let big = tokenizer::train_char(&"abcdefghijklmnopqrstuvwxyz".repeat(2)).unwrap();
    let e = export_hf(&model, Some(&big)).unwrap_err().to_string();
    assert!(e.contains("27 tokens but the model only 20"), "{e}");
}

/// The fixture with `edit` applied to config.json.
fn with_config(edit: impl FnOnce(&mut Value)) -> Files {
    let mut files = fixture_files();
    let mut config: Value = serde_json::from_slice(&files["config.json"]).unwrap();
    edit(&mut config);
    files.insert("config.json".into(), config.to_string().into_bytes());
    files
}

fn import_err(files: &Files) -> String {
    match import_hf(files) {
        Ok(_) => panic!("the import must fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn each_kind_of_bad_directory_is_a_clear_error() {
    let mut files = fixture_files();
    files.remove("config.json");
    let e = import_err(&files);
    assert!(
        e.contains("no config.json") && e.contains("model.safetensors"),
        "{e}"
    );

    let mut files = fixture_files();
    let weights = files.remove("model.safetensors").unwrap();
    files.insert("pytorch_model.bin".into(), weights);
    let e = import_err(&files);
    assert!(e.contains("pickle") && e.contains("save_pretrained"), "{e}");

    let mut files = fixture_files();
    files.remove("tokenizer.json");
    let e = import_err(&files);
    assert!(e.contains("no tokenizer.json"), "{e}");

    let e = import_err(&with_config(|c| {
        c["model_type"] = "llama".into();
        c["architectures"] = serde_json::json!(["LlamaForCausalLM"]);
    }));
    assert!(
        e.contains("\"llama\"") && e.contains("LlamaForCausalLM") && e.contains("GPT-2"),
        "{e}"
    );
    let e = import_err(&with_config(|c| {
        c["architectures"] = serde_json::json!(["GPT2ForSequenceClassification"]);
    }));
    assert!(e.contains("GPT2ForSequenceClassification"), "{e}");
    let e = import_err(&with_config(|c| c["activation_function"] = "gelu".into()));
    assert!(e.contains("\"gelu\""), "{e}");
    let e = import_err(&with_config(|c| c["layer_norm_epsilon"] = 1e-6.into()));
    assert!(e.contains("layer_norm_epsilon"), "{e}");
    let e = import_err(&with_config(|c| c["n_embd"] = 48.into()));
    assert!(
        e.contains("`transformer.wte.weight` has shape [320, 32], but config.json needs [320, 48]"),
        "{e}"
    );
    let e = import_err(&with_config(|c| c["vocab_size"] = 100.into()));
    assert!(e.contains("has shape [320, 32]"), "{e}");
    let e = import_err(&with_config(|c| c["n_layer"] = 3.into()));
    assert!(e.contains("no tensor `transformer.h.2.ln_1.weight`"), "{e}");
    let e = import_err(&with_config(|c| c["n_layer"] = 1.into()));
    assert!(e.contains("does not have: transformer.h.1."), "{e}");

    let mut files = fixture_files();
    let mut t = tensors(&files["model.safetensors"]);
    t.push((
        "lm_head.weight".into(),
        vec![320, 32],
        vec![0; 320 * 32 * 4],
    ));
    files.insert(
        "model.safetensors".into(),
        write(&t, safetensors::Dtype::F32),
    );
    let e = import_err(&files);
    assert!(e.contains("untied head"), "{e}");

    let mut files = fixture_files();
    files.insert("model.safetensors".into(), b"not safetensors".to_vec());
    assert!(import_err(&files).contains("not a valid safetensors file"));
}

const LORA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/hf/tiny-gpt2-lora"
);

fn read_dir(path: &str) -> Files {
    std::fs::read_dir(path)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_peft_trained_adapter_gives_its_logits_and_goes_back_out_unchanged() {
    let base = import_hf(&fixture_files()).unwrap().model;
    let adapter = read_dir(LORA);
    let mut adapted = super::import_peft(&base, &adapter).unwrap();
    let lora = adapted.config.lora.clone().unwrap();
    assert_eq!((lora.r, lora.alpha), (4, 8.0));
    // `c_proj` in target_modules names both projections.
    assert_eq!(lora.targets, crate::model::lora::LoraTarget::ALL);
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{LORA}-expected.json")).unwrap())
            .unwrap();
    let want: Vec<f32> = expected["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    let got = logits(&mut adapted, &ids(&expected["ids"]));
    let diff = max_diff(&got, &want);
    assert!(diff < 1e-4, "adapted logits differ by {diff}");
    let plain = logits(
        &mut Gpt::from_params(base.config.clone(), base.params.clone()).unwrap(),
        &ids(&expected["ids"]),
    );
    assert!(max_diff(&plain, &want) > 1e-2, "the adapter must matter");
    // Saved again: PEFT's names, shapes and the very bits.
    let out = super::export_peft(&adapted).unwrap();
    assert_eq!(
        tensors(&out["adapter_model.safetensors"]),
        tensors(&adapter["adapter_model.safetensors"])
    );
    let config: Value = serde_json::from_slice(&out["adapter_config.json"]).unwrap();
    assert_eq!(config["fan_in_fan_out"], true);
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(
        config["target_modules"],
        serde_json::json!(["c_attn", "attn.c_proj", "c_fc", "mlp.c_proj"])
    );
    // Merged into a Hugging Face directory: the adapted logits from plain GPT-2 weights.
    let mut merged = import_hf(
        &export_hf(&adapted, None)
            .map(|mut f| {
                f.extend(
                    fixture_files()
                        .into_iter()
                        .filter(|(n, _)| n == "tokenizer.json"),
                );
                f
            })
            .unwrap(),
    )
    .unwrap()
    .model;
    assert!(max_diff(&logits(&mut merged, &ids(&expected["ids"])), &want) < 1e-4);
}

#[test]
fn bad_adapters_are_clear_errors() {
    let base = import_hf(&fixture_files()).unwrap().model;
    let err = |edit: &dyn Fn(&mut Files)| {
        let mut files = read_dir(LORA);
        edit(&mut files);
        match super::import_peft(&base, &files) {
            Ok(_) => panic!("must fail"),
            Err(e) => e.to_string(),
        }
    };
    let set = |key: &'static str, value: Value| {
        move |files: &mut Files| {
            let mut c: Value = serde_json::from_slice(&files["adapter_config.json"]).unwrap();
            c[key] = value.clone();
            files.insert("adapter_config.json".into(), c.to_string().into_bytes());
        }
    };
    assert!(err(&set("use_dora", true.into())).contains("DoRA"));
    assert!(err(&set("peft_type", "IA3".into())).contains("\"IA3\""));
    assert!(
        err(&set("r", 8.into()))
            .contains("has shape [4, 32], but the base model and r = 8 need [8, 32]")
    );
    let e = err(&set("target_modules", serde_json::json!(["c_attn"])));
    assert!(
        e.contains("does not describe") && e.contains("c_proj.lora_A"),
        "{e}"
    );
    let e = err(&|f: &mut Files| {
        f.remove("adapter_model.safetensors");
        f.insert("adapter_model.bin".into(), vec![]);
    });
    assert!(e.contains("pickle"), "{e}");
}
