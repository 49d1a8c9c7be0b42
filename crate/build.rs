//! Copies the WGSL shaders (`../shaders/*.wgsl`) into OUT_DIR, where the ops include them with `shader!`.
//! Native builds get them as written, so naga's messages point at the lines a person reads. The wasm build,
//! which carries every shader inside the module, gets them without comments and indentation: about half the
//! text, 13 KB less gzipped.

use std::path::Path;
use std::{env, fs};

fn main() {
    let shaders = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shaders");
    println!("cargo:rerun-if-changed={}", shaders.display());
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("shaders");
    fs::create_dir_all(&out).expect("OUT_DIR is writable");
    let compact = env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32");
    let entries = fs::read_dir(&shaders).expect("the shaders/ folder beside crate/");
    for entry in entries {
        let path = entry.expect("a readable shaders/ folder").path();
        if path.extension().is_none_or(|ext| ext != "wgsl") {
            continue;
        }
        let source = fs::read_to_string(&path).expect("a readable shader");
        let text = if compact {
            without_comments(&source)
        } else {
            source
        };
        let name = path.file_name().expect("a file name");
        fs::write(out.join(name), text).expect("OUT_DIR is writable");
    }
}

/// `source` without `//` comments, indentation and blank lines. WGSL has no string literals, so `//` always
/// starts a comment.
fn without_comments(source: &str) -> String {
    let mut text = String::with_capacity(source.len() / 2);
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or_default().trim();
        if !code.is_empty() {
            text.push_str(code);
            text.push('\n');
        }
    }
    text
}
