//! The one train/validation split, as the CLI makes it (`corpus::train_val_split`): the package and the page
//! call this instead of cutting the text themselves, so the same text gives the same validation tokens in all
//! three.

use wasm_bindgen::prelude::*;

/// `[train, validation]`: the text cut at the line start nearest to the last `valFraction` of its bytes
/// (at a character boundary when no line start is near). `train + validation` is exactly `text`.
#[wasm_bindgen(js_name = trainValSplit)]
pub fn train_val_split(
    text: &str,
    #[wasm_bindgen(js_name = valFraction)] val_fraction: f32,
) -> Vec<String> {
    let (train, val) = crate::corpus::train_val_split(text, val_fraction);
    vec![train.to_string(), val.to_string()]
}
