"""Training on several GPUs of one host (train.distributed), against one GPU, in one run:

- loss curves: both stages through `qwen-iac train` (so through its `accelerate launch`), QLoRA nf4 on a
  small random-init Qwen3 with the real Qwen vocabulary, on 1 process and on N at the same global batch
  (1 x 2 on one GPU, 1 x 1 on each of two), gradient checkpointing on as the profiles train. LoRA dropout
  is 0 here: each process draws its own dropout masks, so with dropout the curves would differ by the
  masks, not by the distribution;
- FSDP: both stages of the same model with train.distributed.strategy fsdp, against the one-GPU curve;
- throughput: the Qwen3-14B-shaped benchmark of benchmarks/train_throughput.py (the training stage's CUDA
  stack, 3,072 tokens a step per process, gradients averaged every step: the least favourable case for
  scaling) under `accelerate launch` with 1 and with N processes. tokens/s counts every process.

    python -m benchmarks.multi_gpu --out benchmarks/results/multi_gpu.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from stages.distributed import launcher
from stages.params import DistributedParams
from tests.tiny_models import REPO, build_tiny_qwen3, write_project

STAGES = ("train_stage1", "train_stage2")


def curve(root: Path, stage: str) -> list[tuple[int, float]]:
    lines = (root / "reports/curves" / stage / "plots/metrics/loss.tsv").read_text().splitlines()[1:]
    return [(int(step), float(loss)) for step, loss in (line.split("\t") for line in lines)]


def train_project(root: Path, stages: tuple[str, ...]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result: dict[str, Any] = {}
    for stage in stages:
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "stages.cli", "train", stage], cwd=root, env=env,
                             capture_output=True, text=True)
        if run.returncode:
            return {**result, stage: {"error": (run.stdout + run.stderr)[-3000:]}}
        metrics = json.loads((root / "metrics" / f"{stage}.json").read_text())
        points = curve(root, stage)
        steps = [step for step, _ in points]
        result[stage] = {"seconds": round(time.perf_counter() - started, 1), "processes": metrics["processes"],
                         "global_batch": metrics["global_batch"], "final_loss": metrics["final_loss"],
                         "eval_loss": metrics["eval_loss"], "curve": [loss for _, loss in points],
                         "one_writer": steps == sorted(set(steps)),  # a second writer would log each step twice
                         "checkpoints_left": (root / "checkpoints" / stage).exists()}
    return result


def train_runs(work: Path, runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Both stages for each named train.distributed setting, on one small base, as the profiles train
    (gradient checkpointing on)."""
    base = work / "qwen3-base"
    if not (base / "config.json").exists():
        build_tiny_qwen3(base, hidden_size=256, layers=4)
    common = {"train.lora.dropout": 0.0, "train.gradient_checkpointing": True, "train_stage1.max_steps": 12,
              "train_stage2.max_steps": 8}
    for stage in STAGES:
        common.update({f"{stage}.batch_size": 1, f"{stage}.gradient_accumulation_steps": 2})
    return {name: train_project(write_project(work / f"p{name}", base, **common, **{"train.distributed": setting}),
                                STAGES) for name, setting in runs.items()}


def max_rel_diff(one: dict[str, Any] | None, many: dict[str, Any] | None) -> float | None:
    """The largest relative difference between two runs' loss curves, step by step, over both stages."""
    diffs = []
    for stage in STAGES:
        first, second = (one or {}).get(stage, {}).get("curve"), (many or {}).get(stage, {}).get("curve")
        if first and second and len(first) == len(second):
            diffs += [abs(b - a) / abs(a) for a, b in zip(first, second, strict=True)]
    return round(max(diffs), 6) if diffs else None


def throughput(base: Path, processes: int, steps: int) -> dict[str, Any]:
    if not (base / "config.json").exists():
        from benchmarks.qwen3_14b_profiles import build_base

        build_base(base)
    results = {}
    for count in (1, processes):
        launch = [*launcher(DistributedParams(processes=count), "fp32", gpus=True), "-m",
                  "benchmarks.train_throughput", "--one", "project", "--ddp", "--base", str(base), "--steps",
                  str(steps), "--lengths", "3072"]
        child = subprocess.run(launch, capture_output=True, text=True, cwd=REPO)
        lines = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
        results[str(count)] = json.loads(lines[-1][7:]) if lines else {"error": child.stderr[-3000:]}
        print(count, json.dumps(results[str(count)]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "multi_gpu.json")
    parser.add_argument("--base", type=Path, default=Path("/tmp/q14"), help="the 14B-shaped model, built when missing")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10, help="throughput steps per run, the first three warm-up")
    parser.add_argument("--skip", choices=("curves", "fsdp", "throughput"), nargs="*", default=[])
    args = parser.parse_args()
    if torch.cuda.device_count() < args.processes:
        raise SystemExit(f"needs {args.processes} CUDA GPUs, found {torch.cuda.device_count()}")
    gpus = [torch.cuda.get_device_name(i) for i in range(args.processes)]
    # a part run again replaces its own results only; each part names the GPUs it ran on
    report: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    report["what"] = __doc__.split("\n\n")[0].replace("\n", " ")
    work, many = Path(tempfile.mkdtemp(prefix="multi-gpu-")), str(args.processes)
    if "curves" not in args.skip:
        runs = train_runs(work, {"1": {"processes": 1}, many: {"processes": args.processes}})
        report["loss_curves"] = {"gpus": gpus, "runs": runs, "loss_max_rel_diff": max_rel_diff(runs["1"], runs[many])}
        print(json.dumps(report["loss_curves"]), flush=True)
    if "fsdp" not in args.skip:
        report["fsdp"] = {"gpus": gpus, "runs": train_runs(work, {f"{many}_fsdp": {"processes": args.processes,
                                                                                 "strategy": "fsdp"}})}
    if "throughput" not in args.skip:
        report["throughput_3072"] = {"gpus": gpus, **throughput(args.base, args.processes, args.steps)}
    rates = {count: run.get("L3072", {}).get("tokens_per_s") for count, run in report.get("throughput_3072", {}).items()
             if count != "gpus"}
    one, many = rates.get("1"), rates.get(str(args.processes))
    report["summary"] = {"gpus": gpus,
                         f"scaling_{args.processes}gpu": round(many / one, 3) if one and many else None,
                         "loss_max_rel_diff": report.get("loss_curves", {}).get("loss_max_rel_diff"),
                         "fsdp_loss_max_rel_diff": max_rel_diff(
                             report.get("loss_curves", {}).get("runs", {}).get("1"),
                             report.get("fsdp", {}).get("runs", {}).get(f"{args.processes}_fsdp"))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["summary"]))


if __name__ == "__main__":
    main()
