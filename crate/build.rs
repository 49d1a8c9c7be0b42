//! Expands the WGSL kernels (`../shaders/*.wgsl`) into OUT_DIR, where the ops include them with `shader!`.
//!
//! Includes: a line `#include "include/name.wgsl"` (path relative to `shaders/`) is replaced by that file's text,
//! recursively. A file is pasted once per kernel (a second include of it is dropped, as `#pragma once`), so pieces
//! can include what they need, such as `include/prelude.wgsl`, without clashing declarations. WGSL resolves
//! module-scope names in any order, so an included piece may call functions and read bindings that the kernel
//! declares after the include line; each piece's header says what it expects. A missing file, a path leaving
//! `shaders/` or a cycle stops the build with the chain of files that led there. Only the files directly in
//! `shaders/` are kernels; `shaders/include/` holds the pieces.
//!
//! Element types: every kernel names its tensor element type `elem`, an alias that `include/prelude.wgsl` sets to
//! f32. A kernel with the line `#variants f16` is also written out as `<name>_f16.wgsl`: the same text with
//! `enable f16;` first and the alias set to f16 (the one line `alias elem = f32;` of the prelude replaced), so the
//! half-precision kernels are generated from the readable f32 source, never copied by hand. Such a kernel keeps
//! its sums and statistics in explicit f32 and converts at loads and stores (`f32(x)`, `elem(y)`), which are no-ops
//! in the f32 build. The ops request an `_f16` kernel only on a device opened with `shader-f16`.
//!
//! Native builds keep the comments, with a `// begin include/...` and `// end include/...` line around each piece,
//! so naga's messages point at text a person can find. The wasm build, which carries every kernel inside the module,
//! gets them without comments and indentation: about half the text, 13 KB less gzipped.

use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    // Read at run time, not with env!(): one compiled build script can serve checkouts at other paths (a
    // clone built into this target folder), and a baked-in path would read the other checkout's shaders.
    let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let shaders = Path::new(&manifest_dir).join("../shaders");
    // A folder here means every file below it, included pieces and newly added files too.
    println!("cargo:rerun-if-changed={}", shaders.display());
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("shaders");
    // Afresh, so that a kernel deleted from shaders/ does not live on here.
    if out.exists() {
        fs::remove_dir_all(&out).expect("OUT_DIR is writable");
    }
    fs::create_dir_all(&out).expect("OUT_DIR is writable");
    let compact = env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32");
    let mut kernels: Vec<PathBuf> = fs::read_dir(&shaders)
        .expect("the shaders/ folder beside crate/")
        .map(|entry| entry.expect("a readable shaders/ folder").path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "wgsl"))
        .collect();
    kernels.sort();
    for path in kernels {
        let name = path
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        let mut expander = Expander {
            root: &shaders,
            stack: Vec::new(),
            pasted: Vec::new(),
            text: String::new(),
            variants: Vec::new(),
        };
        if let Err(message) = expander.expand(&name) {
            // The build script's stderr is shown when it fails; a panic would bury the sentence in a backtrace.
            eprintln!("error: shaders/{name}: {message}");
            std::process::exit(1);
        }
        let text = if compact {
            without_comments(&expander.text)
        } else {
            expander.text
        };
        for variant in &expander.variants {
            match with_element_type(&text, variant) {
                Ok(variant_text) => {
                    let stem = name.trim_end_matches(".wgsl");
                    fs::write(out.join(format!("{stem}_{variant}.wgsl")), variant_text)
                        .expect("OUT_DIR is writable");
                }
                Err(message) => {
                    eprintln!("error: shaders/{name}: {message}");
                    std::process::exit(1);
                }
            }
        }
        fs::write(out.join(&name), text).expect("OUT_DIR is writable");
    }
}

/// The text of a kernel's `variant` (only "f16" so far): `enable f16;` first and the prelude's one
/// `alias elem = f32;` line set to the variant's type.
fn with_element_type(text: &str, variant: &str) -> Result<String, String> {
    if variant != "f16" {
        return Err(format!("`#variants {variant}`: the only variant is f16"));
    }
    let alias = "alias elem = f32;";
    let count = text.lines().filter(|line| line.trim() == alias).count();
    if count != 1 {
        return Err(format!(
            "an f16 variant needs exactly one `{alias}` line (include/prelude.wgsl); found {count}"
        ));
    }
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str("enable f16;\n");
    for line in text.lines() {
        if line.trim() == alias {
            out.push_str("alias elem = f16;");
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    Ok(out)
}

/// The expansion of one kernel: the text so far, the chain of files being pasted (for cycles) and the files
/// already pasted (each goes in once).
struct Expander<'a> {
    root: &'a Path,
    stack: Vec<String>,
    pasted: Vec<String>,
    text: String,
    /// The element-type variants the kernel asks for with `#variants f16` (the kernel's own file only).
    variants: Vec<String>,
}

impl Expander<'_> {
    /// Appends `name` (a path relative to `shaders/`) with its includes expanded.
    fn expand(&mut self, name: &str) -> Result<(), String> {
        if self.stack.iter().any(|open| open == name) {
            return Err(format!(
                "an include cycle: {} -> {name}",
                self.stack.join(" -> ")
            ));
        }
        if self.pasted.iter().any(|done| done == name) {
            return Ok(());
        }
        let path = self.root.join(name);
        let source = fs::read_to_string(&path).map_err(|error| match self.stack.last() {
            Some(parent) => format!("{parent} includes \"{name}\", which cannot be read ({error})"),
            None => format!("cannot be read ({error})"),
        })?;
        self.stack.push(name.to_string());
        self.pasted.push(name.to_string());
        for (index, line) in source.lines().enumerate() {
            if let Some(rest) = line.trim_start().strip_prefix("#variants") {
                if self.stack.len() != 1 {
                    return Err(format!(
                        "{name}:{}: `#variants` belongs in a kernel, not in an included piece",
                        index + 1
                    ));
                }
                self.variants
                    .extend(rest.split_whitespace().map(str::to_string));
                continue;
            }
            match included_name(line) {
                Ok(None) => {
                    self.text.push_str(line);
                    self.text.push('\n');
                }
                Ok(Some(piece)) => {
                    self.text.push_str(&format!("// begin {piece}\n"));
                    self.expand(&piece)?;
                    self.text.push_str(&format!("// end {piece}\n"));
                }
                Err(problem) => return Err(format!("{name}:{}: {problem}", index + 1)),
            }
        }
        self.stack.pop();
        Ok(())
    }
}

/// The file named by an `#include "..."` line, `None` for any other line. The path is relative to `shaders/`
/// and may not climb out of it; a `//` comment may follow.
fn included_name(line: &str) -> Result<Option<String>, String> {
    let Some(rest) = line.trim_start().strip_prefix("#include") else {
        return Ok(None);
    };
    let expected = "expected `#include \"include/name.wgsl\"`";
    let rest = rest.trim_start();
    let quoted = rest.strip_prefix('"').ok_or(expected)?;
    let end = quoted.find('"').ok_or(expected)?;
    let (name, after) = (&quoted[..end], quoted[end + 1..].trim());
    if !(after.is_empty() || after.starts_with("//")) {
        return Err(expected.to_string());
    }
    if name.is_empty()
        || name.starts_with('/')
        || name.split('/').any(|part| part == ".." || part == ".")
    {
        return Err(format!("\"{name}\" must be a plain path below shaders/"));
    }
    Ok(Some(name.to_string()))
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
