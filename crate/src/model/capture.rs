//! Introspection for the page: the real numbers inside the model for one input sequence, as serde
//! structs (JSON for the CLI, plain objects for JavaScript). Every capture runs the forward pass in
//! evaluation mode (no dropout) with B = 1 and reads the activation buffers the backward pass also uses.

use serde::{Deserialize, Serialize};

use super::config::Positional;
use super::gpt::Gpt;
use crate::{Result, invalid_input};

/// Attention probabilities of every layer and head: att (L, NH, T, T), row = query, column = key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AttentionCapture {
    pub n_layer: usize,
    pub n_head: usize,
    pub t: usize,
    pub att: Vec<f32>,
}

/// One (layer, head, query position) in full: how its output was made.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeadDetail {
    pub layer: usize,
    pub head: usize,
    pub query: usize,
    /// hs, and 1/sqrt(hs), the scale of the scores.
    pub head_size: usize,
    pub scale: f32,
    /// The query vector (hs), after RoPE when the model uses it.
    pub q: Vec<f32>,
    /// Keys (T, hs) and values (T, hs) of every position.
    pub keys: Vec<f32>,
    pub values: Vec<f32>,
    /// q.k for every key position (T) (computed for masked keys too, for display).
    pub raw_scores: Vec<f32>,
    /// raw_scores * scale (T).
    pub scaled_scores: Vec<f32>,
    /// Whether the query may see each key (T).
    pub visible: Vec<bool>,
    /// Softmax of the scaled scores over the visible keys (T; 0 where masked).
    pub weights: Vec<f32>,
    /// The weighted sum of the values (hs): this head's slice of the attention output.
    pub output: Vec<f32>,
}

/// Mean and reciprocal standard deviation of each position at one LayerNorm.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerNormCapture {
    /// `h.{l}.ln_1`, `h.{l}.ln_2` or `ln_f`.
    pub name: String,
    pub mean: Vec<f32>,
    pub rstd: Vec<f32>,
}

/// Statistics of one block's feed-forward activations (after ReLU/GELU), (T, F) values.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FfnStats {
    pub layer: usize,
    pub mean: f32,
    pub std: f32,
    pub min: f32,
    pub max: f32,
    /// Fraction of values above zero (for ReLU: units that fired).
    pub active_fraction: f32,
    /// Per hidden unit, the fraction of positions where it was above zero (F).
    pub unit_active_fraction: Vec<f32>,
    /// 20 equal bins between min and max.
    pub histogram: Vec<u32>,
}

/// The most likely next tokens at one position.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TopTokens {
    pub position: usize,
    pub tokens: Vec<u32>,
    pub probs: Vec<f32>,
}

/// Everything about one input at once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Inspection {
    pub tokens: Vec<u32>,
    pub attention: AttentionCapture,
    pub layernorm: Vec<LayerNormCapture>,
    pub ffn: Vec<FfnStats>,
    pub top_k: Vec<TopTokens>,
}

/// The embedding tables: wte (V, C) and the position table (T, C) when there is one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EmbeddingCapture {
    pub vocab_size: usize,
    pub n_embd: usize,
    pub wte: Vec<f32>,
    /// Learned wpe or the sinusoidal table, (block_size, C); empty with RoPE.
    pub positions: Vec<f32>,
}

impl Gpt<f32> {
    fn run_single(&mut self, tokens: &[u32]) -> Result<usize> {
        if tokens.is_empty() {
            invalid_input!("no tokens to inspect");
        }
        let t = tokens.len();
        self.forward(tokens, None, 1, t, None)?;
        Ok(t)
    }

    /// Attention probabilities for every layer and head of `tokens`.
    pub fn capture_attention(&mut self, tokens: &[u32]) -> Result<AttentionCapture> {
        let t = self.run_single(tokens)?;
        let att = self
            .acts()
            .layers
            .iter()
            .flat_map(|la| self.act(la.att.expect("the CPU keeps the attention maps")))
            .copied()
            .collect();
        Ok(AttentionCapture {
            n_layer: self.config.n_layer,
            n_head: self.config.n_head,
            t,
            att,
        })
    }

    /// The full computation of one head at one query position.
    pub fn attention_detail(
        &mut self,
        tokens: &[u32],
        layer: usize,
        head: usize,
        query: usize,
    ) -> Result<HeadDetail> {
        let (l, nh, c) = (self.config.n_layer, self.config.n_head, self.config.n_embd);
        if layer >= l || head >= nh || query >= tokens.len() {
            invalid_input!(
                "layer {layer}, head {head}, query {query} is outside the model ({l} layers, {nh} heads) or the input ({} tokens)",
                tokens.len()
            );
        }
        let t = self.run_single(tokens)?;
        let hs = c / nh;
        let scale = 1.0 / (hs as f32).sqrt();
        let acts = self.acts();
        let la = &acts.layers[layer];
        let qkv = self.act(acts.attention_qkv(layer));
        let slice = |p: usize, part: usize| &qkv[p * 3 * c + part * c + head * hs..][..hs];
        let q = slice(query, 0).to_vec();
        let keys: Vec<f32> = (0..t).flat_map(|p| slice(p, 1).to_vec()).collect();
        let values: Vec<f32> = (0..t).flat_map(|p| slice(p, 2).to_vec()).collect();
        let raw_scores: Vec<f32> = (0..t)
            .map(|p| q.iter().zip(slice(p, 1)).map(|(a, b)| a * b).sum())
            .collect();
        let scaled_scores = raw_scores.iter().map(|s| s * scale).collect();
        let visible_n = self.config.attention_mask.visible(query, t);
        let visible = (0..t).map(|p| p < visible_n).collect();
        let row = (head * t + query) * t;
        let att = self.act(la.att.expect("the CPU keeps the attention maps"));
        let weights = att[row..row + t].to_vec();
        let output = self.act(la.atty)[query * c + head * hs..][..hs].to_vec();
        Ok(HeadDetail {
            layer,
            head,
            query,
            head_size: hs,
            scale,
            q,
            keys,
            values,
            raw_scores,
            scaled_scores,
            visible,
            weights,
            output,
        })
    }

    /// Attention, LayerNorm statistics, FFN activation statistics and the `k` most likely next tokens at
    /// every position, from one forward pass.
    pub fn inspect(&mut self, tokens: &[u32], k: usize) -> Result<Inspection> {
        let attention = self.capture_attention(tokens)?;
        let t = attention.t;
        let (f, v) = (self.config.ffn_width(), self.config.vocab_size);
        let acts = self.acts();
        let mut layernorm = Vec::new();
        let mut ffn = Vec::new();
        for (l, la) in acts.layers.iter().enumerate() {
            layernorm.push(LayerNormCapture {
                name: format!("h.{l}.ln_1"),
                mean: self.act(la.ln1_mean).to_vec(),
                rstd: self.act(la.ln1_rstd).to_vec(),
            });
            layernorm.push(LayerNormCapture {
                name: format!("h.{l}.ln_2"),
                mean: self.act(la.ln2_mean).to_vec(),
                rstd: self.act(la.ln2_rstd).to_vec(),
            });
            ffn.push(ffn_stats(l, self.act(la.fch_act), t, f));
        }
        layernorm.push(LayerNormCapture {
            name: "ln_f".into(),
            mean: self.act(acts.lnf_mean).to_vec(),
            rstd: self.act(acts.lnf_rstd).to_vec(),
        });
        let logits = self.act(acts.logits);
        let top_k = (0..t)
            .map(|p| top_tokens(p, &logits[p * v..(p + 1) * v], k))
            .collect();
        Ok(Inspection {
            tokens: tokens.to_vec(),
            attention,
            layernorm,
            ffn,
            top_k,
        })
    }

    /// The embedding tables.
    pub fn embeddings(&self) -> EmbeddingCapture {
        let (lay, c, t) = (&self.layout, self.config.n_embd, self.config.block_size);
        let positions = match self.config.positional {
            Positional::Learned => lay
                .get(&self.params, lay.wpe.expect("learned positions have wpe"))
                .to_vec(),
            Positional::Sinusoidal => {
                let mut table = vec![0.0f32; t * c];
                crate::ops::encoder_forward::sinusoidal_table(&mut table, 0, t, c);
                table
            }
            Positional::Rope => Vec::new(),
        };
        EmbeddingCapture {
            vocab_size: self.config.vocab_size,
            n_embd: c,
            wte: lay.get(&self.params, lay.wte).to_vec(),
            positions,
        }
    }
}

fn ffn_stats(layer: usize, act: &[f32], t: usize, f: usize) -> FfnStats {
    let n = (t * f) as f64;
    let mean = act.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = act
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n;
    let min = act.iter().copied().fold(f32::INFINITY, f32::min);
    let max = act.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let active = act.iter().filter(|&&x| x > 0.0).count();
    let unit_active_fraction = (0..f)
        .map(|u| (0..t).filter(|&p| act[p * f + u] > 0.0).count() as f32 / t as f32)
        .collect();
    let mut histogram = vec![0u32; 20];
    let width = (max - min).max(f32::MIN_POSITIVE);
    for &x in act {
        let bin = (((x - min) / width) * 20.0) as usize;
        histogram[bin.min(19)] += 1;
    }
    FfnStats {
        layer,
        mean: mean as f32,
        std: var.sqrt() as f32,
        min,
        max,
        active_fraction: active as f32 / n as f32,
        unit_active_fraction,
        histogram,
    }
}

/// The k most likely tokens of softmax(logits), most likely first.
pub fn top_tokens(position: usize, logits: &[f32], k: usize) -> TopTokens {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let exps: Vec<f64> = logits.iter().map(|&x| f64::from(x - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    let mut order = crate::sort::sorted_order(logits.len(), &mut |a, b| {
        exps[b].total_cmp(&exps[a]).then(a.cmp(&b))
    });
    order.truncate(k.min(logits.len()));
    TopTokens {
        position,
        tokens: order.iter().map(|&i| i as u32).collect(),
        probs: order.iter().map(|&i| (exps[i] / total) as f32).collect(),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::model::config::{Activation, ModelConfig};

    fn model(positional: Positional) -> Gpt<f32> {
        let config = ModelConfig {
            n_layer: 2,
            n_head: 3,
            n_embd: 12,
            block_size: 8,
            positional,
            activation: Activation::Relu,
            ..ModelConfig::reference(37)
        };
        let mut model = Gpt::new(config, 4).unwrap();
        for (i, p) in model.params.iter_mut().enumerate() {
            *p += 0.2 * ((i * 7919 % 101) as f32 / 50.0 - 1.0);
        }
        model
    }

    #[test]
    fn head_detail_recomputes_the_attention_output() {
        for positional in [Positional::Learned, Positional::Rope] {
            let mut m = model(positional);
            let tokens = [3, 14, 15, 9, 2, 6];
            let d = m.attention_detail(&tokens, 1, 2, 4).unwrap();
            assert_eq!(d.visible, [true, true, true, true, true, false]);
            assert_eq!(d.weights[5], 0.0);
            // softmax of the visible scaled scores equals the captured weights
            let max = d.scaled_scores[..5]
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = d.scaled_scores[..5].iter().map(|s| (s - max).exp()).sum();
            for p in 0..5 {
                assert!(((d.scaled_scores[p] - max).exp() / sum - d.weights[p]).abs() < 1e-6);
                assert!((d.raw_scores[p] * d.scale - d.scaled_scores[p]).abs() < 1e-6);
            }
            // the weighted sum of the values equals the captured output
            for i in 0..d.head_size {
                let expect: f32 = (0..6)
                    .map(|p| d.weights[p] * d.values[p * d.head_size + i])
                    .sum();
                assert!(
                    (expect - d.output[i]).abs() < 1e-5,
                    "{positional:?}: {expect} vs {}",
                    d.output[i]
                );
            }
            assert!(m.attention_detail(&tokens, 2, 0, 0).is_err());
        }
    }

    #[test]
    fn inspection_has_distributions_and_stats() {
        let mut m = model(Positional::Sinusoidal);
        let tokens = [1, 2, 3, 4, 5];
        let ins = m.inspect(&tokens, 5).unwrap();
        assert_eq!(ins.attention.att.len(), 2 * 3 * 5 * 5);
        for row in ins.attention.att.chunks(5) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        assert_eq!(ins.layernorm.len(), 5);
        assert_eq!(ins.layernorm[4].name, "ln_f");
        assert!(
            ins.layernorm
                .iter()
                .all(|ln| ln.rstd.len() == 5 && ln.rstd.iter().all(|&r| r > 0.0))
        );
        let ffn = &ins.ffn[0];
        assert!(ffn.min >= 0.0, "ReLU outputs are not negative");
        assert!(ffn.active_fraction > 0.0 && ffn.active_fraction < 1.0);
        assert_eq!(ffn.histogram.iter().sum::<u32>() as usize, 5 * 48);
        for top in &ins.top_k {
            assert_eq!(top.tokens.len(), 5);
            assert!(top.probs.windows(2).all(|w| w[0] >= w[1]));
        }
        // The top token agrees with greedy generation.
        let greedy = m
            .generate(
                &tokens,
                &crate::model::generate::SampleOptions {
                    max_tokens: 1,
                    temperature: 0.0,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(ins.top_k[4].tokens[0], greedy[0]);
        let json = serde_json::to_string(&ins).unwrap();
        assert!(json.contains("\"unit_active_fraction\""));
        let emb = m.embeddings();
        assert_eq!((emb.wte.len(), emb.positions.len()), (37 * 12, 8 * 12));
    }
}
