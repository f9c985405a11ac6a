"""Peak GPU memory and throughput of the training stages under the Qwen3-14B hardware profiles, on a
Qwen3-14B-shaped model with random weights (memory and speed do not depend on weight values) and the real
Qwen vocabulary. Runs `stages.train` itself with params.yaml + profiles/qwen3-14b.yaml + the hardware
profile, shortened to a few optimizer steps, on rows padded out to the profile's max_length so every step
is a worst case; stage 2 continues stage 1's adapter at 3,072 tokens.

    python -m benchmarks.qwen3_14b_profiles --out benchmarks/results/qwen3_14b_profiles.json
"""

import argparse
import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml

from stages import params, style_tokens, train, training
from stages.rows import read_jsonl, write_jsonl
from tests.tiny_models import REPO, qwen3_tokenizer

QWEN3_14B = dict(hidden_size=5120, intermediate_size=17408, num_hidden_layers=40, num_attention_heads=40,
                 num_key_value_heads=8, head_dim=128, vocab_size=151936, max_position_embeddings=40960,
                 rope_theta=1e6, rms_norm_eps=1e-6, tie_word_embeddings=False)


def build_base(out_dir: Path) -> Path:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = Qwen3ForCausalLM(Qwen3Config(**QWEN3_14B, bos_token_id=151643, eos_token_id=151645))
    torch.set_default_dtype(torch.float32)
    model.save_pretrained(out_dir, max_shard_size="5GB")
    qwen3_tokenizer().save_pretrained(out_dir)
    del model
    torch.cuda.empty_cache()
    return out_dir


def long_rows(tokenizer: Any, length: int, count: int) -> list[dict[str, Any]]:
    """IaC rows whose answers are the corpus's code run together, cut so that each whole conversation
    is just under `length` tokens."""
    corpus = list(read_jsonl(REPO / "data" / "raw" / "iac.jsonl"))
    text_ids = tokenizer("\n\n".join(row["output"] for row in corpus), add_special_tokens=False)["input_ids"]
    rows = []
    for index in range(count):
        row = {**corpus[index], "source": "iac", "style": "VERBOSE"}
        room = length
        while True:
            row["output"] = tokenizer.decode(text_ids[index * 97: index * 97 + room])
            size = len(training.tokenize(row, tokenizer)["input_ids"])
            if size <= length:
                break
            room -= size - length + 8
        rows.append(row)
    return rows


def configure(root: Path, base_dir: Path, hardware_profile: str, steps: dict[str, int]) -> None:
    config = yaml.safe_load((REPO / "params.yaml").read_text())
    for name in ("qwen3-14b", hardware_profile):
        for section, values in yaml.safe_load((REPO / "profiles" / f"{name}.yaml").read_text()).items():
            config[section].update(values)
    for stage in ("train_stage1", "train_stage2"):
        # Memory depends on the sequences per step, not on accumulation: one micro-batch per step here.
        config[stage].update(max_steps=steps[stage], gradient_accumulation_steps=1, save_steps=1000,
                             eval_examples=1, logging_steps=1)
    (root / "models").mkdir(parents=True)
    (root / "params.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "models" / "base").symlink_to(base_dir)
    tokenizer = qwen3_tokenizer()
    style_tokens.add_to_tokenizer(tokenizer, "tokens")
    for stage, files in (("train_stage1", ("stage1_train", "stage1_eval")),
                         ("train_stage2", ("stage2_train", "iac_heldout"))):
        batch = config[stage]["batch_size"] * config[stage]["gradient_accumulation_steps"]
        rows = long_rows(tokenizer, config[stage]["max_length"], batch * steps[stage] + 1)
        write_jsonl(root / "data" / "splits" / f"{files[0]}.jsonl", rows[:-1])
        write_jsonl(root / "data" / "splits" / f"{files[1]}.jsonl", rows[-1:])


def run_profile(work: Path, base_dir: Path, hardware_profile: str, steps: dict[str, int]) -> dict[str, Any]:
    root = work / hardware_profile
    configure(root, base_dir, hardware_profile, steps)
    result: dict[str, Any] = {"profile": ["qwen3-14b", hardware_profile]}
    with contextlib.chdir(root):
        loaded = params.load()
        for stage in ("train_stage1", "train_stage2"):
            stage_metrics = train.run(loaded, stage)
            keep = ("steps", "tokens_seen", "tokens_per_second", "peak_memory_gib", "wall_seconds", "final_loss",
                    "hardware", "trainable_parameters", "style_tokens")
            result[stage] = {key: stage_metrics[key] for key in keep}
            result[stage]["max_length"] = loaded.train(stage).max_length
            result[stage]["sequences_per_step"] = loaded.train(stage).batch_size
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "qwen3_14b_profiles.json")
    args = parser.parse_args()
    import bitsandbytes
    import peft
    import transformers
    import trl

    work = Path(tempfile.mkdtemp(prefix="q14-"))
    base_dir = build_base(work / "base")
    report: dict[str, Any] = {
        "what": __doc__.split("\n\n")[0].replace("\n", " "),
        "device": torch.cuda.get_device_name(0),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
                     "peft": peft.__version__, "bitsandbytes": bitsandbytes.__version__},
        "note": "peak_memory_gib is torch.cuda.max_memory_reserved over the stage, weights included",
        "runs": [],
    }
    steps = {"train_stage1": 2, "train_stage2": 4}  # stage 2 is the longest: it sets the peak
    for profile in ("a10g-24gb", "gpu-80gb"):
        report["runs"].append(run_profile(work, base_dir, profile, steps))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
