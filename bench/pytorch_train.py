"""The model `tplay train` trains, written in PyTorch, timed the same way: tokens per second of full optimizer
steps (forward, backward, gradient clipping by global norm, AdamW), float32, on the CPU.

It mirrors transformer-playground's GPT (crate/src/model/transformer.rs): learned positions, pre-LayerNorm
blocks with biases, causal attention, an MLP of 4C with the tanh GELU, a final LayerNorm and a head tied to the
token embedding; AdamW(betas 0.9/0.99, eps 1e-8, weight decay 0.1 on matrices), clipping at 1.0.

Used by bench/cpu_vs_pytorch.py (one process per measurement, so the thread count is set before torch starts
its pools). The test suite never imports it. Written against torch 2.15 (CPU wheel from PyPI), Python 3.11.

    python bench/pytorch_train.py --layers 4 --heads 4 --embd 128 --block 64 --batch 16 --vocab 50 --threads 1
prints one JSON line: {"tokens_per_s": ..., "step_ms": [...], "loss": ...}
"""

import argparse
import json
import math
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--embd", type=int, default=128)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=50)
    ap.add_argument("--steps", type=int, default=20, help="timed steps (after 3 warm-up steps)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sdpa", action="store_true",
                    help="use F.scaled_dot_product_attention (PyTorch's fused attention) instead of the "
                         "explicit softmax(QK^T)V")
    args = ap.parse_args()

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(1337)
    L, NH, C, T, B, V = args.layers, args.heads, args.embd, args.block, args.batch, args.vocab

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(C)
            self.c_attn = nn.Linear(C, 3 * C)
            self.c_proj = nn.Linear(C, C)
            self.ln_2 = nn.LayerNorm(C)
            self.c_fc = nn.Linear(C, 4 * C)
            self.mlp_proj = nn.Linear(4 * C, C)
            self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
            q, k, v = (z.view(b, t, NH, c // NH).transpose(1, 2) for z in (q, k, v))
            if args.sdpa:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(~self.mask[:t, :t], float("-inf")).softmax(dim=-1)
                y = att @ v
            x = x + self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))
            return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(V, C)
            self.wpe = nn.Embedding(T, C)
            self.blocks = nn.ModuleList(Block() for _ in range(L))
            self.ln_f = nn.LayerNorm(C)

        def forward(self, idx, targets):
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            for block in self.blocks:
                x = block(x)
            logits = self.ln_f(x) @ self.wte.weight.t()
            return F.cross_entropy(logits.view(-1, V), targets.view(-1))

    model = GPT()
    # nanoGPT's initialisation, as Gpt::new: weights normal(0, 0.02), biases 0, LayerNorm weights 1.
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            nn.init.zeros_(p)
        elif "ln_" in name:
            nn.init.ones_(p)
        else:
            nn.init.normal_(p, 0.0, 0.02)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-3, betas=(0.9, 0.99), eps=1e-8, foreach=True,
    )
    gen = torch.Generator().manual_seed(1)

    def step():
        idx = torch.randint(0, V, (B, T), generator=gen)
        targets = torch.randint(0, V, (B, T), generator=gen)
        opt.zero_grad(set_to_none=True)
        loss = model(idx, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(3):
        step()
    times = []
    loss = 0.0
    cpu0 = time.process_time()
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    total = sum(times)
    print(json.dumps({
        "tokens_per_s": B * T * args.steps / total,
        # Tokens per second of CPU time (all threads): on a loaded machine, what one idle core would do.
        "tokens_per_cpu_s": B * T * args.steps / cpu,
        "step_ms": [round(1000 * s, 2) for s in times],
        "loss": loss,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
