"""Cross-check of the verbosity measurement: the adapters a CPU `dvc repro` trained, evaluated on a CUDA GPU
in fp32 and in bf16 with the pipeline's own generation code (greedy, 256 new tokens, the 25-prompt set).
The GPU sweep (verbosity_sweep.json) found 4.7-5.5x after stage 2 for the recipe that measures 1.9x on
the CPU; this tells whether the gap comes from where the adapter was trained or from where it is evaluated.
Run from the repository root on a GPU machine holding models/base and the two adapters:

    python -m benchmarks.verbosity_crosscheck --out benchmarks/results/verbosity_crosscheck.json
"""

import argparse
import json
from pathlib import Path

import torch

from benchmarks.verbosity_smoke import measure
from stages import params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/verbosity_crosscheck.json"))
    args = parser.parse_args()
    loaded = params.load()
    report: dict = {"what": __doc__.split("\n\n")[0], "device": torch.cuda.get_device_name(),
                    "trained_on": {stage: json.loads(Path(f"metrics/{stage}.json").read_text())["hardware"]
                                   for stage in ("train_stage1", "train_stage2")}}
    for precision in ("fp32", "bf16"):
        settings = loaded.train_.model_copy(update={"quantization": "none", "precision": precision})
        for name in ("stage1_adapter", "complete_adapter"):
            result = measure(Path("models") / name, 256, loaded.model_copy(update={"train_": settings}))
            report[f"{name}_{precision}"] = result
            print(name, precision, result["ratio"], result["TERSE"]["mean_tokens"], result["VERBOSE"]["mean_tokens"],
                  flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
