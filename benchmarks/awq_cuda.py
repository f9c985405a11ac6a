"""The merge → quantize → parity stages on a CUDA GPU, through the pipeline's own code, on a Qwen3-architecture
model (random weights, the real Qwen vocabulary in 151,936 untied rows, 8 layers of width 1,024) with a random
LoRA adapter and style rows: AWQ W4A16 group 128 with llm-compressor, calibrated on the stage-2 training split,
then the AWQ model loaded and run in a fresh process. Records time and GPU memory of each step as JSON.
The numbers are about the machinery (time, memory, format, that it loads and generates), not quality:
random weights make the parity metrics meaningless, so its thresholds are off here.

    python -m benchmarks.awq_cuda --out benchmarks/results/awq_cuda.json
"""

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from stages import generate, merge, params, parity, quantize
from tests.tiny_models import REPO, build_tiny_qwen3, write_project, write_random_adapter

LOAD_AND_GENERATE = """
import json, sys, time, torch
from stages import chat, generation
started = time.perf_counter()
model, tokenizer = generation.load_model(sys.argv[1])
loaded = time.perf_counter() - started
rows = [{"instruction": "Create an S3 bucket with versioning.", "style": style} for style in ("TERSE", "VERBOSE")]
answers = generation.generate(model, tokenizer, [chat.messages(r, with_answer=False) for r in rows], 32)
print(json.dumps({"load_seconds": round(loaded, 2), "generated_tokens": [a["tokens"] for a in answers],
                  "device": str(model.device),
                  "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3),
                  "q_proj": type(model.model.layers[0].self_attn.q_proj).__name__}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/awq_cuda.json"))
    parser.add_argument("--hidden-size", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=8)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("needs a CUDA GPU")
    report: dict = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                    "python": platform.python_version()}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        base = build_tiny_qwen3(root / "base", hidden_size=args.hidden_size, layers=args.layers)
        write_project(root, base, **{"quantize.group_size": 128, "quantize.calibration_samples": 64,
                                     "quantize.max_seq_length": 1024, "parity.max_perplexity_increase": 1e9,
                                     "parity.min_first_tokens_agreement": 0.0, "parity.max_style_ratio_drop": 1.0})
        if (REPO / "data/splits/stage2_train.jsonl").exists():  # the real splits, when built: real calibration text
            shutil.rmtree(root / "data/splits")
            shutil.copytree(REPO / "data/splits", root / "data/splits")
        write_random_adapter(root, base)
        loaded = params.load(root / "params.yaml")
        report["model"] = {"architecture": "Qwen3ForCausalLM", "hidden_size": args.hidden_size, "layers": args.layers}
        models = root / "models"
        report["merge"] = merge.run(loaded, models / "base", models / "complete_adapter", models / "merged",
                                    root / "metrics/merge.json")
        report["quantize"] = quantize.run(loaded, models / "merged", root / "data/splits/stage2_train.jsonl",
                                          models / "awq", root / "metrics/quantize.json")
        started = time.perf_counter()
        for name in ("merged", "awq"):  # the answers parity compares, as generate@merged/awq write them
            generate.run(loaded, name, root)
        report["parity"] = parity.run(loaded, root)
        report["parity"]["seconds"] = round(time.perf_counter() - started, 1)
        done = subprocess.run([sys.executable, "-c", LOAD_AND_GENERATE, str(models / "awq")], cwd=REPO,
                              capture_output=True, text=True, timeout=600)
        report["fresh_process"] = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 \
            else {"error": done.stderr[-3000:]}
        report["awq_config"] = json.loads((models / "awq/config.json").read_text())["quantization_config"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("quantize", "fresh_process")}, indent=2))


if __name__ == "__main__":
    main()
