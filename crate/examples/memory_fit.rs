//! The largest reference-shaped model whose training fits a device, from the memory report's counts
//! (`model::memory`, the buffers the WebGPU executor allocates), without and with activation checkpointing, in
//! f32 and f16.
//!
//!   cargo run -p transformer-playground --release --example memory_fit \
//!       [-- --binding-mib 128 --buffer-mib 256 --budget-mib 256,512,1024]
//!
//! Reference-shaped: the reference config (L=4, NH=4, C=128, T=64, FFN 4C) grown two ways, batch 16 x 64
//! tokens, vocabulary 65 (the stories' characters):
//! - wider: L = 4, C = 64..4096 in steps of 64, NH = C / 32 (heads of 32);
//! - deeper: C = 128, NH = 4, L = 1..1024.
//!
//! A device is three numbers: its largest storage binding (every buffer a kernel binds: one activation, one
//! weight; the optimizer binds the flat gradients in pieces), its largest buffer (the flat f32 weights, and their
//! gradients and AdamW's moments as large), and a budget for the whole footprint. WebGPU's defaults are 128 MiB
//! and 256 MiB; the budget is what the device or the tab will give.

use transformer_playground::model::ModelConfig;
use transformer_playground::model::memory::{Footprint, Precision, footprint};

fn main() {
    let arg = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    let mib_arg = |name: &str, default: u64| -> u64 {
        arg(name).and_then(|s| s.parse().ok()).unwrap_or(default)
    };
    let (binding, buffer) = (
        mib_arg("--binding-mib", 128) << 20,
        mib_arg("--buffer-mib", 256) << 20,
    );
    let budgets: Vec<u64> = arg("--budget-mib")
        .unwrap_or_else(|| "256,512,1024".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
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
    println!(
        "largest storage binding {} MiB, largest buffer {} MiB; batch {b} x {t} tokens, vocabulary 65\n",
        binding >> 20,
        buffer >> 20
    );
    let mut header = "| family | way | binding + buffer only |".to_string();
    let mut rule = "| --- | --- | --- |".to_string();
    for budget in &budgets {
        header += &format!(" total <= {budget} MiB |");
        rule += " --- |";
    }
    println!("{header}\n{rule}");
    type Family = (&'static str, Box<dyn Fn(usize) -> ModelConfig>, Vec<usize>);
    let families: [Family; 2] = [
        (
            "wider (L=4)",
            Box::new(wide),
            (64..=4096).step_by(64).collect(),
        ),
        ("deeper (C=128)", Box::new(deep), (1..=1024).collect()),
    ];
    for (family, make, sizes) in &families {
        for (name, precision, every) in ways {
            let fits = |config: &ModelConfig, f: &Footprint, total: Option<u64>| {
                config.validate().is_ok()
                    && f.largest_binding <= binding
                    && f.largest_buffer <= buffer
                    && total.is_none_or(|total| f.total <= total << 20)
            };
            let largest = |total: Option<u64>| {
                sizes
                    .iter()
                    .map(|&s| {
                        let config = make(s);
                        let f = footprint(&config, b, t, 1, every, true, precision);
                        (config, f)
                    })
                    .take_while(|(config, f)| fits(config, f, total))
                    .last()
            };
            let describe = |x: Option<(ModelConfig, Footprint)>| match x {
                Some((c, f)) => format!(
                    "L={} C={}: {:.2}M params, {:.0} MiB",
                    c.n_layer,
                    c.n_embd,
                    c.param_count() as f64 / 1e6,
                    f.total as f64 / f64::from(1u32 << 20)
                ),
                None => "none".into(),
            };
            let mut row = format!("| {family} | {name} | {} |", describe(largest(None)));
            for &budget in &budgets {
                row += &format!(" {} |", describe(largest(Some(budget))));
            }
            println!("{row}");
        }
    }
}
