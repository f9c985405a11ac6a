"""Both training stages with QLoRA (bitsandbytes nf4, double quant, bf16 compute) on a CUDA GPU, through
the pipeline's own `stages.train`, on two small random-init models:

- a Qwen3 architecture with the real Qwen vocabulary (151,669 tokens in 151,936 rows, untied), so the
  style tokens land on ids 151669/151670 in padding rows and Qwen3's think template is exercised;
- a Llama with tied embeddings that must grow, which takes TRL's fused LM-head path through PEFT's
  TrainableTokensWrapper (the tied-embedding failure in DESIGN.md decision 4).

Checks, per model: the base really is 4-bit; the trained token rows changed and every other row of both
embedding matrices is bit-identical to the base; stage 2 starts from exactly stage 1's adapter weights
and the style rows survive it. Writes the checks and the training metrics as JSON.

    python -m benchmarks.qlora_cuda --out benchmarks/results/qlora_cuda.json
"""

import argparse
import contextlib
import json
import platform
import tempfile
from pathlib import Path
from typing import Any

import torch

from stages import params, train
from tests.tiny_models import (
    REPO,
    build_tiny_model,
    build_tiny_qwen3,
    effective_embeddings,
    stage2_starts_from_stage1,
    style_rows_survive_stage2,
    write_project,
)

ADAPTERS = ("models/stage1_adapter", "models/complete_adapter")


def _rows_changed(before: torch.Tensor, after: torch.Tensor) -> list[int]:
    return (before != after).any(dim=1).nonzero().flatten().tolist()


def run_model(name: str, base_dir: Path, work: Path, steps: dict[str, int]) -> dict[str, Any]:

    root = write_project(work / name, base_dir, **{f"{stage}.max_steps": n for stage, n in steps.items()})
    results: dict[str, Any] = {"model": name}
    with contextlib.chdir(root):
        loaded = params.load()
        results["train_stage1"] = train.run(loaded, "train_stage1")
        results["stage2_starts_from_stage1"] = stage2_starts_from_stage1(root)
        results["train_stage2"] = train.run(loaded, "train_stage2")

    base_in, base_out, layout = effective_embeddings(root)
    style_rows = sorted(layout["token_ids"].values())
    checks: dict[str, Any] = {"style_token_ids": layout["token_ids"], "rows": layout["rows_after"]}
    for adapter in ADAPTERS:
        tuned_in, tuned_out, _ = effective_embeddings(root, adapter)
        tied = tuned_in.data_ptr() == tuned_out.data_ptr() or torch.equal(tuned_in, tuned_out)
        checks[adapter] = {
            "input_rows_changed": _rows_changed(base_in, tuned_in),
            "output_rows_changed": _rows_changed(base_out, tuned_out),
            "only_style_rows_changed": _rows_changed(base_in, tuned_in) == style_rows
            and _rows_changed(base_out, tuned_out) == (style_rows if tied else []),
        }
    checks["style_rows_survive_stage2"] = style_rows_survive_stage2(root)
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quantized = AutoModelForCausalLM.from_pretrained(
        root / "models" / "base", quantization_config=BitsAndBytesConfig(load_in_4bit=True), device_map={"": 0})
    checks["linear4bit_modules"] = sum(type(m).__name__ == "Linear4bit" for m in quantized.modules())
    results["checks"] = checks
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "qlora_cuda.json")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA GPU")
    import bitsandbytes
    import peft
    import transformers
    import trl

    work = Path(tempfile.mkdtemp(prefix="qlora-cuda-"))
    corpus = [line for name in ("verbosity.jsonl", "iac.jsonl")
              for line in (REPO / "data" / "raw" / name).read_text(encoding="utf-8").splitlines()]
    models = {"qwen3": build_tiny_qwen3(work / "qwen3-base", hidden_size=256, layers=4),
              "llama_tied": build_tiny_model(work / "llama-base", corpus)}
    steps = {"train_stage1": 12, "train_stage2": 8}
    report = {
        "what": "QLoRA nf4 stage 1 + stage 2 through stages.train on small random-init models",
        "device": torch.cuda.get_device_name(0), "python": platform.python_version(),
        "versions": {"torch": torch.__version__, "cuda": torch.version.cuda, "transformers": transformers.__version__,
                     "trl": trl.__version__, "peft": peft.__version__, "bitsandbytes": bitsandbytes.__version__},
        "steps": steps,
        "runs": [run_model(name, base, work, steps) for name, base in models.items()],
    }
    report["all_checks_pass"] = all(
        run["stage2_starts_from_stage1"] and run["checks"]["style_rows_survive_stage2"]
        and run["checks"]["linear4bit_modules"] > 0
        and run["train_stage1"]["hardware"] == {"device": "cuda", "quantization": "nf4", "precision": "bf16"}
        and all(run["checks"][adapter]["only_style_rows_changed"] for adapter in ADAPTERS)
        for run in report["runs"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"all_checks_pass": report["all_checks_pass"], "out": str(args.out)}))
    if not report["all_checks_pass"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
