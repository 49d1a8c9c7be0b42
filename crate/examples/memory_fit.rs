//! The largest reference-shaped model whose training fits a memory limit, from the memory report's counts
//! (`model::memory`, the buffers the WebGPU executor allocates), without and with activation checkpointing, in
//! f32 and f16.
//!
//!   cargo run -p transformer-playground --release --example memory_fit [-- --limit-mib 128]
//!
//! Reference-shaped: the reference config (L=4, NH=4, C=128, T=64, FFN 4C) grown two ways, batch 16 x 64
//! tokens, vocabulary 65 (the stories' characters):
//! - wider: L = 4, C = 64..2048 in steps of 64, NH = C / 32 (heads of 32);
//! - deeper: C = 128, NH = 4, L = 1..400.
//!
//! Two readings of "a 128 MiB limit": the adapter's largest storage binding (every buffer one kernel binds must
//! fit; the optimizer binds all the parameters at once), and a budget for the whole footprint.

use transformer_playground::model::ModelConfig;
use transformer_playground::model::memory::{Footprint, Precision, footprint};

fn main() {
    let arg = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    let limit_mib: u64 = arg("--limit-mib")
        .and_then(|s| s.parse().ok())
        .unwrap_or(128);
    let limit = limit_mib << 20;
    let (b, t) = (16, 64);
    let wide = |c: usize| ModelConfig {
        n_embd: c,
        n_head: c / 32,
        ..ModelConfig::reference(65)
    };
    let deep = |l: usize| ModelConfig {
        n_layer: l,
        ..ModelConfig::reference(65)
    };
    let ways = [
        ("f32", Precision::F32, 0),
        ("f32, checkpointing every block", Precision::F32, 1),
        ("f16", Precision::F16, 0),
        ("f16, checkpointing every block", Precision::F16, 1),
    ];
    println!("limit {limit_mib} MiB, batch {b} x {t} tokens, vocabulary 65\n");
    println!(
        "| family | way | largest under the binding limit | params | largest under a total budget | params | its footprint MiB |"
    );
    println!("| --- | --- | --- | ---: | --- | ---: | ---: |");
    type Family = (&'static str, Box<dyn Fn(usize) -> ModelConfig>, Vec<usize>);
    let families: [Family; 2] = [
        (
            "wider (L=4)",
            Box::new(wide),
            (64..=2048).step_by(64).collect(),
        ),
        ("deeper (C=128)", Box::new(deep), (1..=400).collect()),
    ];
    for (family, make, sizes) in &families {
        for (name, precision, every) in ways {
            let fits = |config: &ModelConfig, f: &Footprint, by_total: bool| {
                config.validate().is_ok()
                    && if by_total {
                        f.total <= limit
                    } else {
                        f.largest_binding <= limit
                    }
            };
            let largest = |by_total: bool| {
                sizes
                    .iter()
                    .map(|&s| {
                        let config = make(s);
                        let f = footprint(&config, b, t, 1, every, true, precision);
                        (s, config, f)
                    })
                    .take_while(|(_, config, f)| fits(config, f, by_total))
                    .last()
            };
            let describe = |x: &Option<(usize, ModelConfig, Footprint)>| match x {
                Some((_, c, _)) => (
                    format!("L={} C={} NH={}", c.n_layer, c.n_embd, c.n_head),
                    c.param_count().to_string(),
                ),
                None => ("none".into(), "-".into()),
            };
            let (by_binding, by_total) = (largest(false), largest(true));
            let ((a, pa), (bb, pb)) = (describe(&by_binding), describe(&by_total));
            let total = by_total
                .as_ref()
                .map_or(0.0, |(_, _, f)| f.total as f64 / (1 << 20) as f64);
            println!("| {family} | {name} | {a} | {pa} | {bb} | {pb} | {total:.1} |");
        }
    }
}
