"""PyTorch parity of the encoder-decoder: loss, logits and every gradient of `tplay forward --source` against
torch.nn.Transformer(batch_first=True, norm_first=True) loaded from the same safetensors file.

Usage (a tplay built from this checkout on PATH or given as TPLAY):
    python scripts/parity/encdec_torch.py WORKDIR
It trains nothing: it makes a fresh model with `tplay train --objective seq2seq --steps 0`, writes a batch,
asks tplay for its dump and compares. Needs torch and safetensors (pip install torch safetensors).
The test suite never runs this; docs/objectives.md records its output.
"""

import json
import os
import subprocess
import sys

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file

IGNORE = 2**32 - 1


def load(path):
    """nn.Transformer + the embeddings from a tplay encoder-decoder file (the loader docs/objectives.md shows)."""
    with safe_open(path, "pt") as f:
        config = json.loads(f.metadata()["encdec_config"])
    tensors = load_file(path)
    C, NH, L = config["n_embd"], config["n_head"], config["n_layer"]
    act = config.get("activation", "gelu")
    model = torch.nn.Transformer(
        d_model=C,
        nhead=NH,
        num_encoder_layers=L,
        num_decoder_layers=L,
        dim_feedforward=config.get("ffn_mult", 4) * C,
        dropout=0.0,
        # tplay's GELU is the tanh form.
        activation=(lambda x: F.gelu(x, approximate="tanh")) if act == "gelu" else F.relu,
        batch_first=True,
        norm_first=True,
        bias=config.get("bias", True),
        dtype=torch.float64,
    )
    block = {k: v.double() for k, v in tensors.items() if not k.startswith("transformer.")}
    model.load_state_dict(block, strict=True)
    wte = tensors["transformer.wte.weight"].double().requires_grad_()
    wpe = tensors["transformer.wpe.weight"].double().requires_grad_()
    return config, model, wte, wpe


def forward(model, wte, wpe, source, inputs, targets):
    ts, tt = source.shape[1], inputs.shape[1]
    src = wte[source] + wpe[:ts]
    tgt = wte[inputs] + wpe[:tt]
    mask = torch.nn.Transformer.generate_square_subsequent_mask(tt, dtype=torch.float64)
    out = model(src, tgt, tgt_mask=mask, tgt_is_causal=True)
    logits = out @ wte.T
    t = targets.clone()
    t[t == IGNORE] = -100
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t.reshape(-1), ignore_index=-100)
    return logits, loss


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
    tplay = os.environ.get("TPLAY", "tplay")
    run = lambda *a: subprocess.run([tplay, *a], cwd=work, check=True, capture_output=True, text=True)
    with open(os.path.join(work, "m.json"), "w") as f:
        json.dump({"n_layer": 2, "n_head": 4, "n_embd": 32, "block_size": 16}, f)
    run("train", "--objective", "seq2seq", "--task", "reverse", "--lengths", "8-12", "--config", "m.json",
        "--steps", "0", "--train-pairs", "50", "--val-pairs", "2", "--out", "model.safetensors")
    config, model, wte, wpe = load(os.path.join(work, "model.safetensors"))
    V = config["vocab_size"]
    g = torch.Generator().manual_seed(0)
    source = torch.randint(3, V, (3, 11), generator=g)
    inputs = torch.randint(0, V, (3, 9), generator=g)
    targets = torch.randint(0, V, (3, 9), generator=g)
    targets[1, 7:] = IGNORE  # padding positions count for nothing
    for name, x in [("source", source), ("inputs", inputs), ("targets", targets)]:
        with open(os.path.join(work, name + ".json"), "w") as f:
            json.dump(x.tolist(), f)
    run("forward", "--model", "model.safetensors", "--source", "source.json", "--tokens", "inputs.json",
        "--targets", "targets.json", "--out", "dump.safetensors")
    dump = load_file(os.path.join(work, "dump.safetensors"))
    logits, loss = forward(model, wte, wpe, source, inputs, targets)
    loss.backward()
    report = {
        "loss_torch": loss.item(),
        "loss_tplay": dump["loss"].item(),
        "loss_abs_err": abs(loss.item() - dump["loss"].item()),
        "logits_max_abs_err": (logits.detach().float() - dump["logits"]).abs().max().item(),
    }
    worst = ("", 0.0, 0.0)
    grads = dict(model.named_parameters())
    grads = {k: v.grad for k, v in grads.items()}
    grads["transformer.wte.weight"] = wte.grad
    grads["transformer.wpe.weight"] = wpe.grad
    missing = []
    for name, grad in grads.items():
        key = "grad." + name
        if key not in dump:
            missing.append(name)
            continue
        err = (grad.float() - dump[key]).abs().max().item()
        scale = grad.abs().max().item()
        if err > worst[1]:
            worst = (name, err, scale)
    report["tensors"] = len(grads)
    report["missing_in_dump"] = missing
    report["grad_max_abs_err"] = worst[1]
    report["grad_worst_tensor"] = worst[0]
    report["grad_worst_tensor_max_abs"] = worst[2]
    print(json.dumps(report, indent=1))
    ok = report["loss_abs_err"] < 1e-5 and report["grad_max_abs_err"] < 1e-5 and not missing
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
