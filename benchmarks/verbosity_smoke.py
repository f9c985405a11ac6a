"""Smoke measurement of verbosity control after each training stage: mean generated tokens under
<STYLE_TERSE> and <STYLE_VERBOSE> on the 25-prompt verbosity eval set (greedy, the model's own chat
template), and their ratio, for the stage-1 and the complete adapter (the pipeline's eval_verbosity
measures the merged and AWQ models). Run from the repository root after `dvc repro`:

    python -m benchmarks.verbosity_smoke --out benchmarks/results/verbosity_smoke.json
"""

import argparse
import json
import time
from pathlib import Path

import torch

from stages import chat, eval_verbosity, generation, params, training
from stages.rows import read_jsonl


def measure(adapter: Path, max_new_tokens: int, loaded: params.Params | None = None,
            base_dir: Path = Path("models/base")) -> dict:
    from peft import PeftModel

    loaded = loaded or params.load()
    hardware = training.choose_hardware(loaded.train_)
    tokenizer = training.load_tokenizer(adapter, loaded.train_.style_markers)
    model, _ = training.load_base(base_dir, tokenizer, loaded.train_, hardware)
    model = PeftModel.from_pretrained(model, adapter).merge_and_unload()  # merged: plain layers, faster
    model.eval()
    rows = list(read_jsonl(Path("data/splits/verbosity_eval.jsonl")))
    started = time.perf_counter()
    conversations = [c for style in chat.STYLE_TOKENS for c in generation.prompts(rows, style)]
    answers = generation.generate(model, tokenizer, conversations, max_new_tokens, batch_size=64)
    styled = [a | {"id": r["id"], "style": style} for (style, r), a in
              zip([(style, r) for style in chat.STYLE_TOKENS for r in rows], answers, strict=True)]
    result = eval_verbosity.summarize(styled, loaded.eval_.verbosity.terse_max_tokens,
                                      loaded.eval_.verbosity.verbose_min_tokens)
    result.update(prompts=len(rows), max_new_tokens=max_new_tokens, seconds=round(time.perf_counter() - started, 1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/verbosity_smoke.json"))
    parser.add_argument("--max-new-tokens", type=int, default=256)
    args = parser.parse_args()
    torch.manual_seed(0)
    report = {"what": "mean generated tokens per style on data/splits/verbosity_eval.jsonl, greedy",
              "train_metrics": {stage: json.loads(Path(f"metrics/{stage}.json").read_text())
                                for stage in ("train_stage1", "train_stage2")}}
    for name, adapter in (("stage1_adapter", Path("models/stage1_adapter")),
                          ("complete_adapter", Path("models/complete_adapter"))):
        report[name] = measure(adapter, args.max_new_tokens)
        print(name, json.dumps(report[name]), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
