//! `tplay fill`: a masked-language model's top predictions at each `[MASK]` of a text, as JSON lines.
//!
//! ```text
//! tplay fill --model mlm.safetensors --text "Mira [MASK]alks to the [MASK]ill." --top-k 5
//! {"position":5,"predictions":[{"token":"w","probability":0.93}, ..]}
//! ```

use std::path::PathBuf;

use clap::Args;
use transformer_playground::model::mlm::{MASK_TOKEN, Objective, encode_with_masks};
use transformer_playground::ops::crossentropy_forward::crossentropy_forward_cpu;
use transformer_playground::{Error, Result};

use crate::model_cmd::load_model_with_tokenizer;

#[derive(Args)]
pub struct FillArgs {
    /// A model trained with --objective mlm.
    #[arg(long)]
    model: PathBuf,
    /// Text with one or more [MASK] tokens.
    #[arg(long)]
    text: String,
    /// Predictions shown per [MASK].
    #[arg(long, default_value_t = 5)]
    top_k: usize,
}

pub fn run(args: FillArgs) -> Result<()> {
    let (mut model, tok) = load_model_with_tokenizer(&args.model)?;
    if model.config.objective != Objective::Mlm {
        return Err(Error::InvalidInput(format!(
            "{} was trained with the causal objective and has no {MASK_TOKEN} token: fill needs a model trained with --objective mlm",
            args.model.display()
        )));
    }
    let ids = encode_with_masks(&tok, &model.config, &args.text)?;
    let mask_id = model
        .config
        .mask_token()
        .expect("an mlm model has a mask token");
    if !ids.contains(&mask_id) {
        return Err(Error::InvalidInput(format!(
            "the text has no {MASK_TOKEN}: write {MASK_TOKEN} where the model should fill in a token"
        )));
    }
    let t = ids.len();
    if t > model.config.block_size {
        return Err(Error::InvalidInput(format!(
            "the text is {t} tokens, longer than the model's context of {} tokens: shorten it",
            model.config.block_size
        )));
    }
    model.forward(&ids, None, 1, t, None)?;
    let v = model.config.vocab_size;
    let logits = model.act(model.acts().logits)[..t * v].to_vec();
    // The softmax of each row, through the cross-entropy's forward (its losses are not needed).
    let (mut losses, mut probs) = (vec![0.0f32; t], vec![0.0f32; t * v]);
    crossentropy_forward_cpu(&mut losses, &mut probs, &logits, &vec![0; t], 1, t, v);
    for (position, _) in ids.iter().enumerate().filter(|&(_, &id)| id == mask_id) {
        let row = &probs[position * v..(position + 1) * v];
        let mut order: Vec<usize> = (0..v).filter(|&i| i as u32 != mask_id).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
        let predictions: Vec<serde_json::Value> = order
            .iter()
            .take(args.top_k.max(1))
            .map(|&i| {
                serde_json::json!({
                    "token": tok.decode(&[i as u32]).unwrap_or_else(|_| tok.token_display(i as u32)),
                    "id": i,
                    "probability": row[i],
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"position": position, "predictions": predictions})
        );
    }
    Ok(())
}
