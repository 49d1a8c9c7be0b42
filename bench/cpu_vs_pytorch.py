"""`tplay train` on the CPU beside PyTorch on the same cores: the same model (bench/pytorch_train.py mirrors it),
the same shapes, float32, AdamW and clipping, one right after the other, at 1 thread and at all threads, and the
ratio of their training speeds.

    cargo build --release -p transformer-playground --bin tplay
    python3 bench/cpu_vs_pytorch.py                  # both configs, 1 and all threads, 3 rounds
    python3 bench/cpu_vs_pytorch.py --scaling        # tokens/s and peak memory as C, T and L double

Thread counts: tplay's pool is rayon's (RAYON_NUM_THREADS), PyTorch's is torch.set_num_threads. Each measurement
is a fresh process; its peak resident memory comes from wait4. The pairs are interleaved (tplay, torch, tplay,
torch, ...) so a shared machine's load falls on both; the ratio printed is of the medians. PyTorch is optional:
without it (no --python, or torch not importable) only tplay's numbers are printed. Needs Python 3.8+.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CONFIGS = {
    "reference": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch=16),
    "larger": dict(n_layer=6, n_head=6, n_embd=384, block_size=128, batch=16),
}


def run_measured(cmd, env):
    """Runs cmd; returns (stdout, peak resident memory in MiB, CPU seconds of the process and its threads)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {code}")
    return out, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


class Result:
    """One measurement: wall-clock tokens/s of the timed steps, tokens per CPU-second, peak memory."""

    def __init__(self, speed, cpu_speed, rss):
        self.speed, self.cpu_speed, self.rss = speed, cpu_speed, rss


def tplay_cmd(args, cfg, steps, workdir):
    config_path = os.path.join(workdir, "config.json")
    with open(config_path, "w") as f:
        json.dump({k: v for k, v in cfg.items() if k != "batch"}, f)
    return [
        args.tplay, "train", "--config", config_path, "--steps", str(steps),
        "--batch-size", str(cfg["batch"]), "--eval-interval", "1000000",
        "--corpus-bytes", "300000", "--out", os.path.join(workdir, "model.safetensors"),
    ]


def tplay_run(args, cfg, threads, workdir):
    warmup = 2
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    # The CPU time of the timed steps alone: this run's minus that of a run of the warm-up steps only (both
    # generate the corpus, train the tokenizer, evaluate once at the end and save).
    _, _, setup_cpu = run_measured(tplay_cmd(args, cfg, warmup, workdir), env)
    out, rss, cpu = run_measured(tplay_cmd(args, cfg, args.steps + warmup, workdir), env)
    speeds = [json.loads(line)["tokens_per_s"] for line in out.splitlines() if '"tokens_per_s"' in line]
    timed = speeds[warmup:]
    tokens = cfg["batch"] * cfg["block_size"]
    # Mean speed over the timed steps = tokens / total time (the harmonic mean of per-step speeds).
    speed = len(timed) / sum(1.0 / s for s in timed)
    cpu_speed = tokens * len(timed) / max(cpu - setup_cpu, 1e-9)
    return Result(speed, cpu_speed, rss)


def torch_run(args, cfg, threads):
    cmd = [
        args.python, os.path.join(HERE, "pytorch_train.py"), "--layers", str(cfg["n_layer"]),
        "--heads", str(cfg["n_head"]), "--embd", str(cfg["n_embd"]), "--block", str(cfg["block_size"]),
        "--batch", str(cfg["batch"]), "--vocab", "50", "--steps", str(args.steps), "--threads", str(threads),
    ]
    if args.sdpa:
        cmd.append("--sdpa")
    out, rss, _ = run_measured(cmd, dict(os.environ))
    result = json.loads(out.strip().splitlines()[-1])
    return Result(result["tokens_per_s"], result["tokens_per_cpu_s"], rss)


def torch_available(python):
    if not python:
        return False
    try:
        subprocess.run([python, "-c", "import torch"], check=True, capture_output=True)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False


def loadavg():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def compare(args, have_torch, workdir):
    all_threads = os.cpu_count()
    rows = []
    for name in args.configs:
        cfg = CONFIGS[name]
        for threads in sorted({1, all_threads}):
            ours, theirs = [], []
            for r in range(args.rounds):
                ours.append(tplay_run(args, cfg, threads, workdir))
                if have_torch:
                    theirs.append(torch_run(args, cfg, threads))
                print(f"  {name} threads={threads} round {r + 1}: tplay {ours[-1].speed:.0f}"
                      + (f", torch {theirs[-1].speed:.0f}" if have_torch else "")
                      + f" tokens/s (load {loadavg()})", file=sys.stderr)
            rows.append((name, threads, ours, theirs))
    print("\nWall clock: tokens/s of the timed steps (median, then each round); the ratio is the median of the")
    print("interleaved pairs' ratios. Per CPU-second: tokens per second of CPU time of all the process's threads.")
    print("\n| config | threads | tplay tokens/s | PyTorch tokens/s | tplay / PyTorch | tplay / PyTorch per CPU-s "
          "| tplay, PyTorch peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|")

    def cell(results):
        runs = ", ".join(f"{x.speed:.0f}" for x in results)
        return f"{statistics.median(x.speed for x in results):.0f} ({runs})"

    for name, threads, ours, theirs in rows:
        mem = max(x.rss for x in ours)
        if theirs:
            # The ratio of each interleaved pair, then their median: pairs share the machine's load.
            ratio = statistics.median(a.speed / b.speed for a, b in zip(ours, theirs))
            cpu_ratio = statistics.median(a.cpu_speed / b.cpu_speed for a, b in zip(ours, theirs))
            tmem = max(x.rss for x in theirs)
            print(f"| {name} | {threads} | {cell(ours)} | {cell(theirs)} | {ratio:.2f} | {cpu_ratio:.2f} "
                  f"| {mem:.0f}, {tmem:.0f} MiB |")
        else:
            print(f"| {name} | {threads} | {cell(ours)} | - | - | - | {mem:.0f} MiB |")
    print(f"\nload average after: {loadavg()}")


def scaling(args, have_torch, workdir):
    base = dict(n_layer=2, n_head=4, n_embd=128, block_size=64, batch=16)
    variants = [("base", {})]
    for key, label in (("n_embd", "C"), ("block_size", "T"), ("n_layer", "L")):
        value = base[key]
        for factor in (2, 4):
            variants.append((f"{label} x{factor}", {key: value * factor}))
    threads = args.scaling_threads
    print("\ntokens/s wall clock (per CPU-second in brackets)")
    print(f"\n| variant | L | C | T | tplay tokens/s | tplay peak RSS | PyTorch tokens/s | PyTorch peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, change in variants:
        cfg = dict(base, **change)
        ours = tplay_run(args, cfg, threads, workdir)
        if have_torch:
            t = torch_run(args, cfg, threads)
            theirs = f"{t.speed:.0f} ({t.cpu_speed:.0f}) | {t.rss:.0f} MiB"
        else:
            theirs = "- | -"
        print(f"| {label} | {cfg['n_layer']} | {cfg['n_embd']} | {cfg['block_size']} | {ours.speed:.0f} "
              f"({ours.cpu_speed:.0f}) | {ours.rss:.0f} MiB | {theirs} |", flush=True)
    print(f"\n{threads} thread(s), B = 16; load average after: {loadavg()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tplay", default=os.path.join(ROOT, "target", "release", "tplay"))
    ap.add_argument("--python", default=os.environ.get("TORCH_PYTHON", sys.executable),
                    help="a Python with torch (default: this one, or $TORCH_PYTHON)")
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved repetitions of each pair")
    ap.add_argument("--sdpa", action="store_true", help="PyTorch with its fused attention")
    ap.add_argument("--scaling", action="store_true", help="the scaling study instead of the comparison")
    ap.add_argument("--scaling-threads", type=int, default=1)
    args = ap.parse_args()
    if not os.path.exists(args.tplay):
        sys.exit(f"{args.tplay} not found: cargo build --release -p transformer-playground --bin tplay")
    have_torch = torch_available(args.python)
    if not have_torch:
        print(f"PyTorch not importable from {args.python}: tplay only", file=sys.stderr)
    print(f"load average before: {loadavg()}; {os.cpu_count()} logical CPUs")
    with tempfile.TemporaryDirectory() as workdir:
        if args.scaling:
            scaling(args, have_torch, workdir)
        else:
            compare(args, have_torch, workdir)


if __name__ == "__main__":
    main()
