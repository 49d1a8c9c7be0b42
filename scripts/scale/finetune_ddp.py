"""Continues training an exported transformer-playground model with Hugging Face's Trainer under DDP, then saves
it so `tplay import` (or `--model DIR`) brings it back. See docs/scale.md.

Made with: Python 3, torch 2.15.0, transformers 5.24.0.
Run with one process per device, e.g. two CPU processes (gloo):
    torchrun --nproc_per_node 2 scripts/scale/finetune_ddp.py --model hf_model --text corpus.txt --out hf_tuned --cpu
On GPUs drop --cpu (NCCL) and raise --nproc_per_node / add --nnodes for many machines.
"""

import argparse

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True, help="a directory written by `tplay export --format hf`")
parser.add_argument("--text", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--steps", type=int, default=20)
parser.add_argument("--cpu", action="store_true", help="CPU processes with the gloo backend")
args = parser.parse_args()

tok = AutoTokenizer.from_pretrained(args.model)
model = AutoModelForCausalLM.from_pretrained(args.model)
block = model.config.n_positions
ids = tok(open(args.text).read())["input_ids"]
# Non-overlapping windows of block_size tokens; labels are the inputs (the model shifts them).
windows = [ids[i : i + block] for i in range(0, len(ids) - block, block)]


class Windows(torch.utils.data.Dataset):
    def __len__(self):
        return len(windows)

    def __getitem__(self, i):
        x = torch.tensor(windows[i])
        return {"input_ids": x, "labels": x.clone()}


training = TrainingArguments(
    output_dir=args.out + "-checkpoints",
    max_steps=args.steps,
    per_device_train_batch_size=4,
    learning_rate=1e-3,
    warmup_steps=2,
    logging_steps=5,
    save_strategy="no",
    report_to=[],
    use_cpu=args.cpu,
    ddp_backend="gloo" if args.cpu else None,
    seed=1337,
)
trainer = Trainer(model=model, args=training, train_dataset=Windows())
result = trainer.train()
if trainer.is_world_process_zero():
    trainer.save_model(args.out)  # model.safetensors + config.json
    tok.save_pretrained(args.out)
    print(f"world size {training.world_size}: {result.global_step} steps, final loss {result.training_loss:.4f}")
