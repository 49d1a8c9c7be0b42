//! How tokens are shown, for what has no tokenizer yet (the merges of a BPE training in progress, the characters
//! of a text): the core's own rule, the one `Tokenizer.tokenStrings` uses.

use wasm_bindgen::prelude::*;

/// The readable form of bytes (a token's): text as it is, a space as ␣, `\n` `\t` `\r`, other control
/// characters and bytes that are not whole UTF-8 characters as <0xE2>.
#[wasm_bindgen(js_name = displayBytes)]
pub fn display_bytes(bytes: &[u8]) -> String {
    crate::tokenizer::display_bytes(bytes)
}
