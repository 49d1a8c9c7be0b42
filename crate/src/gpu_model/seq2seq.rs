//! Training the encoder-decoder on the GPU: the CPU trainer's data, sampler, schedule and evaluation
//! ([`Seq2SeqTrainer`]: the same pairs and batches from the same seed) driving a [`GpuEncDec`], whose step is
//! one submit. Evaluation scores the GPU's own greedy outputs with the same metrics.

use super::encdec::GpuEncDec;
use crate::Result;
use crate::gpu::GpuContext;
use crate::model::encdec::EncDec;
use crate::model::seq2seq_train::{
    BOS, EOS, Seq2SeqEval, Seq2SeqStep, Seq2SeqTrainer, scored_eval,
};

/// A seq2seq run on the GPU.
pub struct GpuSeq2SeqTrainer {
    /// The task's vocabulary, pairs, sampler and options (its CPU model holds the starting weights; see
    /// [`Self::download`]).
    pub data: Seq2SeqTrainer,
    pub model: GpuEncDec,
}

impl GpuSeq2SeqTrainer {
    /// Uploads `trainer`'s model and trains it on the GPU from here on.
    pub fn new(gpu: &GpuContext, trainer: Seq2SeqTrainer) -> Result<Self> {
        let model = GpuEncDec::from_cpu(gpu, &trainer.model)?;
        Ok(Self {
            data: trainer,
            model,
        })
    }

    /// The optimizer steps taken.
    pub fn step_count(&self) -> u32 {
        self.data.step
    }

    /// One optimiser step on the next batch of the CPU trainer's sampler.
    pub async fn train_step(&mut self, gpu: &GpuContext) -> Result<Seq2SeqStep> {
        let batch = self.data.next_batch()?;
        self.data.step += 1;
        let step = self.data.step;
        let options = &self.data.options;
        let (loss, grad_norm) = self
            .model
            .train_step(
                gpu,
                &batch.source,
                &batch.inputs,
                &batch.targets,
                (batch.b, batch.ts, batch.tt),
                step,
                options,
            )
            .await?;
        Ok(Seq2SeqStep {
            step,
            loss,
            lr: options.lr_at(step),
            grad_norm,
        })
    }

    /// The validation loss (teacher-forced) and the metrics of greedy decoding on the GPU over the first `n`
    /// validation pairs.
    pub async fn evaluate(&mut self, gpu: &GpuContext, n: usize) -> Result<Seq2SeqEval> {
        let (pairs, batch) = self.data.eval_batch(n)?;
        let (b, ts, tt) = (batch.b, batch.ts, batch.tt);
        let val_loss = self
            .model
            .loss(gpu, &batch.source, &batch.inputs, &batch.targets, b, ts, tt)
            .await?;
        let max_len = self.model.config.block_size;
        let outputs = self
            .model
            .generate_greedy(gpu, &batch.source, b, ts, BOS, EOS, max_len)
            .await?;
        let hypotheses: Vec<String> = outputs.iter().map(|o| self.data.vocab.decode(o)).collect();
        scored_eval(self.data.step, val_loss, &pairs, &hypotheses)
    }

    /// Copies the GPU's weights into the CPU trainer's model (to save it or decode with beam search).
    pub async fn download(&mut self, gpu: &GpuContext) -> Result<&EncDec<f32>> {
        self.data.model.params = self.model.download_params(gpu).await?;
        Ok(&self.data.model)
    }
}
