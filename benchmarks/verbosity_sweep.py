"""Which stage-1 recipe gives the embedded default verbosity control. Each variant trains stage 1 and
stage 2 exactly as `dvc repro` does on the 2-core CPU (same params, data, steps; fp32, no quantization)
and measures the TERSE/VERBOSE generated-token ratio on the 25-prompt set after each stage. On a GPU the
arithmetic is the same and a variant takes seconds instead of 25 minutes, which makes the sweep possible.
Run from the repository root after `dvc repro split` (models/base and data/splits in place):

    python -m benchmarks.verbosity_sweep --out benchmarks/results/verbosity_sweep.json
"""

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from benchmarks.verbosity_smoke import measure
from stages import params, style_tokens, train

# The stage-1 recipe before this sweep; each variant changes it. "params_yaml" is params.yaml as it is.
BEFORE = {"train_stage1.max_steps": 48, "train_stage1.gradient_accumulation_steps": 4, "train_stage1.save_steps": 12,
          "train_stage1.style_rows_lr_multiplier": 1}
# name: (dotted params overrides, whether the style rows start at the typical token norm rather than at
# the mean of the seed phrase's rows)
VARIANTS: dict[str, tuple[dict[str, Any], bool]] = {
    "seed_mean": (BEFORE, False),
    "seed_norm": (BEFORE, True),
    "seed_norm_rows_x10": ({**BEFORE, "train_stage1.style_rows_lr_multiplier": 10}, True),
    "seed_norm_rows_x30": ({**BEFORE, "train_stage1.style_rows_lr_multiplier": 30}, True),
    "seed_mean_rows_x5": ({**BEFORE, "train_stage1.style_rows_lr_multiplier": 5}, False),
    "seed_mean_rows_x10": ({**BEFORE, "train_stage1.style_rows_lr_multiplier": 10}, False),
    "seed_mean_rows_x30": ({**BEFORE, "train_stage1.style_rows_lr_multiplier": 30}, False),
    # the same 192 rows, one TERSE/VERBOSE pair per optimizer step
    "seed_mean_rows_x10_96x2": ({**BEFORE, "train_stage1.style_rows_lr_multiplier": 10, "train_stage1.max_steps": 96,
                                 "train_stage1.gradient_accumulation_steps": 2}, False),
    "seed_mean_rows_x10_192x2": ({**BEFORE, "train_stage1.style_rows_lr_multiplier": 10, "train_stage1.max_steps": 192,
                                  "train_stage1.gradient_accumulation_steps": 2}, False),
    "params_yaml": ({}, False),
    # params.yaml without LoRA dropout: CPU and CUDA draw different dropout masks (issue 4's device gap)
    "params_yaml_no_dropout": ({"train.lora.dropout": 0.0}, False),
}


def with_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> params.Params:
    raw = json.loads(json.dumps(raw))
    for dotted, value in overrides.items():
        *parents, key = dotted.split(".")
        section = raw
        for parent in parents:
            section = section[parent]
        section[key] = value
    return params.parse(raw, f"params.yaml with {overrides}")


def scaled_seed_rows(prepare: Any) -> Any:
    """prepare_embedding with the seed rows rescaled to the mean norm of the model's own rows."""
    def prepare_scaled(model: Any, tokenizer: Any, markers: Any) -> dict:
        layout = prepare(model, tokenizer, markers)
        embedding = model.get_input_embeddings().weight
        with torch.no_grad():
            typical_norm = embedding[:layout["rows_before"]].float().norm(dim=1).mean()
            for token_id in layout["token_ids"].values():
                row = embedding[token_id].float()
                embedding[token_id] = (row * typical_norm / row.norm()).to(embedding.dtype)
        return layout
    return prepare_scaled


def run_variant(raw: dict[str, Any], overrides: dict[str, Any], seed_norm: bool, base_dir: Path,
                max_new_tokens: int, console: Console) -> dict[str, Any]:
    loaded = with_overrides(raw, {"train.quantization": "none", "train.precision": "fp32", **overrides})
    plain = style_tokens.prepare_embedding
    if seed_norm:
        style_tokens.prepare_embedding = scaled_seed_rows(plain)
    try:
        result: dict[str, Any] = {"overrides": overrides, "seed_norm": seed_norm}
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            previous = None
            for stage in ("train_stage1", "train_stage2"):
                defaults = train.default_paths(stage)
                paths = train.Paths(defaults.train, defaults.eval, work / stage, previous)
                started = time.perf_counter()
                metrics = train.run(loaded, stage, base_dir=base_dir, paths=paths, checkpoint_dir=work / "checkpoints",
                                    live_dir=work / "curves" / stage, metrics_path=work / f"{stage}.json",
                                    console=console)
                result[stage] = {"final_loss": metrics["final_loss"], "eval_loss": metrics["eval_loss"],
                                 "train_seconds": round(time.perf_counter() - started, 1),
                                 **measure(paths.out, max_new_tokens, loaded, base_dir)}
                previous = paths.out
        return result
    finally:
        style_tokens.prepare_embedding = plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/verbosity_sweep.json"))
    parser.add_argument("--base-dir", type=Path, default=Path("models/base"))
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    console = Console()
    from ruamel.yaml import YAML

    raw = YAML(typ="safe").load(Path("params.yaml").read_text(encoding="utf-8"))
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    report: dict[str, Any] = {"what": "TERSE/VERBOSE mean generated tokens on data/splits/verbosity_eval.jsonl "
                                      "(greedy) after stage 1 and stage 2, per stage-1 recipe",
                              "device": device, "runs": []}
    for seed in args.seeds:
        for name in args.variants:
            overrides, seed_norm = VARIANTS[name]
            result = run_variant(raw, {"train.seed": seed, **overrides}, seed_norm, args.base_dir,
                                 args.max_new_tokens, console)
            report["runs"].append({"variant": name, "seed": seed, **result})
            console.print(f"[bold]{name} seed {seed}[/]: ratio after stage 1 {result['train_stage1']['ratio']}, "
                          f"after stage 2 {result['train_stage2']['ratio']}")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
