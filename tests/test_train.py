"""Training on CPU with tiny models: the loss mask, the style-token rows (tied Llama that must grow, Qwen3
layout that must not), stage 2 continuing stage 1's adapter, the replay mix, resuming after a kill, and
the errors a user gets before any training."""

import copy
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file

from stages import PipelineError, chat, params, sft_trainer, style_tokens, train, training
from stages.rows import read_jsonl
from tests.conftest import REPO
from tests.tiny_models import (
    STEPS,
    cpu_base,
    effective_embeddings,
    stage2_starts_from_stage1,
    style_rows_survive_stage2,
    write_project,
)


def _train(root: Path, *stages: str) -> list[dict]:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        loaded = params.load()
        return [train.run(loaded, stage) for stage in stages]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    root = write_project(tmp_path_factory.mktemp("trained"), tiny_model_dir)
    _train(root, "train_stage1", "train_stage2")
    return root


def _masked_text(tokenizer: object, example: dict) -> str:
    kept = [token for token, keep in zip(example["input_ids"], example["completion_mask"], strict=True) if keep]
    return tokenizer.decode(kept)


@pytest.mark.parametrize("model_fixture", ["tiny_model_dir", "tiny_qwen3_dir"])
def test_loss_falls_exactly_on_the_answer_and_its_end_of_turn(model_fixture: str,
                                                              request: pytest.FixtureRequest) -> None:
    tokenizer = training.load_tokenizer(request.getfixturevalue(model_fixture), "tokens")
    rows = [row for name in ("verbosity", "iac") for row in list(read_jsonl(REPO / "data/raw" / f"{name}.jsonl"))[:3]]
    for row in rows:
        row = {**row, "style": row.get("style") or "VERBOSE"}
        example = training.tokenize(row, tokenizer)
        assert _masked_text(tokenizer, example) == row["output"] + tokenizer.eos_token
        style_id = tokenizer.convert_tokens_to_ids(chat.STYLE_TOKENS[row["style"]])
        assert example["input_ids"].count(style_id) == 1  # one special token, in the prompt
        assert example["completion_mask"][example["input_ids"].index(style_id)] == 0
    if model_fixture == "tiny_qwen3_dir":  # thinking off renders an empty think block, outside the loss
        prompt = tokenizer.decode(example["input_ids"][: example["completion_mask"].index(1)])
        assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_tied_model_grows_to_a_multiple_of_64_and_only_style_rows_train(trained: Path,
                                                                        tiny_model_dir: Path) -> None:
    metrics = json.loads((trained / "metrics" / "train_stage1.json").read_text())
    layout = metrics["style_tokens"]
    assert layout["rows_before"] == 1024 and layout["rows_after"] == 1088 and layout["resized"]
    base_in, _, _ = effective_embeddings(trained, None)
    tuned_in, tuned_out, _ = effective_embeddings(trained, "models/stage1_adapter")
    changed = (tuned_in != base_in).any(dim=1).nonzero().flatten().tolist()
    assert changed == sorted(layout["token_ids"].values())
    assert torch.equal(tuned_out, tuned_in)  # still tied after the merge
    adapter = load_file(trained / "models" / "stage1_adapter" / "adapter_model.safetensors")
    assert not [key for key in adapter if "embed_tokens.weight" in key or "lm_head.weight" in key]


def test_qwen3_layout_keeps_every_row_and_trains_only_the_style_rows(tmp_path: Path, tiny_qwen3_dir: Path) -> None:
    root = write_project(tmp_path, tiny_qwen3_dir, **{"train_stage1.max_steps": 2})
    (stage1,) = _train(root, "train_stage1")
    layout = stage1["style_tokens"]
    assert layout == {"rows_before": 151936, "rows_after": 151936, "resized": False,
                      "token_ids": {"TERSE": 151669, "VERBOSE": 151670}}
    base_in, base_out, _ = effective_embeddings(root, None)
    tuned_in, tuned_out, _ = effective_embeddings(root, "models/stage1_adapter")
    assert tuned_in.shape[0] == 151936
    assert (tuned_in != base_in).any(dim=1).nonzero().flatten().tolist() == [151669, 151670]
    assert torch.equal(tuned_out, base_out)  # untied lm_head: not touched at all


def test_style_rows_learn_at_their_multiple_of_the_rate_under_the_same_schedule(tmp_path: Path,
                                                                               tiny_model_dir: Path) -> None:
    from transformers import TrainerCallback

    class RecordRates(TrainerCallback):
        def __init__(self) -> None:
            self.steps: list[dict] = []

        def on_step_end(self, args: object, state: object, control: object, **kwargs: object) -> None:
            style_rows = {id(p) for n, p in kwargs["model"].named_parameters() if "trainable_tokens" in n}
            groups = kwargs["optimizer"].param_groups
            self.steps.append({"rates": [group["lr"] for group in groups],
                               "style": [bool(style_rows & {id(p) for p in group["params"]}) for group in groups],
                               "only_style": [{id(p) for p in group["params"]} <= style_rows for group in groups]})

    root = write_project(tmp_path, tiny_model_dir, **{"train_stage1.max_steps": 3,
                                                      "train_stage1.style_rows_lr_multiplier": 10})
    recorder = RecordRates()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        train.run(params.load(), "train_stage1", callbacks=[recorder])
    assert len(recorder.steps) == 3
    for step in recorder.steps:
        assert step["style"] == [False, False, True] and step["only_style"][2]  # rows moved out, all of them
        *others, rows = step["rates"]
        assert all(rows == pytest.approx(10 * rate) for rate in others)


def test_stage2_starts_from_exactly_the_stage1_adapter(trained: Path) -> None:
    assert stage2_starts_from_stage1(trained)


def test_style_rows_survive_stage2_and_the_mix_holds_the_replay(trained: Path) -> None:
    assert style_rows_survive_stage2(trained)
    metrics = json.loads((trained / "metrics" / "train_stage2.json").read_text())
    assert metrics["examples_by_source"] == {"iac": 10, "verbosity": 2}
    assert metrics["steps"] == STEPS["train_stage2"]
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained / "models" / "complete_adapter")
    for style, token_id in metrics["style_tokens"]["token_ids"].items():
        assert tokenizer(chat.STYLE_TOKENS[style], add_special_tokens=False)["input_ids"] == [token_id]


def test_metrics_curves_and_model_card(trained: Path) -> None:
    metrics = json.loads((trained / "metrics" / "train_stage1.json").read_text())
    assert metrics["steps"] == STEPS["train_stage1"] and metrics["tokens_seen"] > 0
    assert metrics["final_loss"] > 0 and metrics["eval_loss"] > 0 and metrics["peak_memory_gib"] > 0
    loss_curve = (trained / "reports/curves/train_stage1/plots/metrics/loss.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in loss_curve] == ["step", "1", "2", "3", "4"]
    card = (trained / "models/stage1_adapter/README.md").read_text()
    assert training.file_sha256(trained / "data/splits/stage1_train.jsonl") in card
    assert not (trained / "checkpoints" / "train_stage1").exists()  # done: nothing left to resume


KILL_AT = """
import os, signal, sys
from transformers import TrainerCallback
from stages import params, train

class Kill(TrainerCallback):
    def on_log(self, args, state, control, **kwargs):
        if state.global_step == 3:  # step 3 is on the curves; checkpoint-2 exists, checkpoint-4 never will
            os.kill(os.getpid(), signal.SIGKILL)

train.run(params.load(), "train_stage1", callbacks=[Kill()])
"""


def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path: Path, trained: Path, tiny_model_dir: Path) -> None:
    root = write_project(tmp_path, tiny_model_dir)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", KILL_AT], cwd=root, env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert sorted(p.name for p in (root / "checkpoints/train_stage1").glob("checkpoint-*")) == ["checkpoint-2"]

    (resumed,) = _train(root, "train_stage1")
    assert resumed["resumed_from"].endswith("checkpoint-2") and resumed["steps"] == STEPS["train_stage1"]
    steps = [line.split("\t")[0] for line in (root / "reports/curves/train_stage1/plots/metrics/loss.tsv")
             .read_text().splitlines()[1:]]
    assert steps == ["1", "2", "3", "4"]  # the curve continues, no step logged twice
    uninterrupted = load_file(trained / "models/stage1_adapter/adapter_model.safetensors")
    for key, value in load_file(root / "models/stage1_adapter/adapter_model.safetensors").items():
        torch.testing.assert_close(value, uninterrupted[key], rtol=1e-4, atol=1e-5, msg=key)


def test_out_of_memory_ends_with_advice_and_keeps_the_checkpoint(tmp_path: Path, tiny_model_dir: Path) -> None:
    from transformers import TrainerCallback

    class OutOfMemoryAtStep3(TrainerCallback):  # what CUDA raises, raised where it would be
        def on_step_end(self, args: object, state: object, control: object, **kwargs: object) -> None:
            if state.global_step == 3:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    root = write_project(tmp_path, tiny_model_dir)
    with pytest.MonkeyPatch.context() as patch, pytest.raises(PipelineError) as error:
        patch.chdir(root)
        train.run(params.load(), "train_stage1", callbacks=[OutOfMemoryAtStep3()])
    message = str(error.value)
    assert "train_stage1.max_length" in message and "train.gradient_checkpointing" in message
    assert "checkpoint-2" in message and (root / "checkpoints/train_stage1/checkpoint-2").is_dir()


def test_refused_before_training(tmp_path: Path, tiny_model_dir: Path) -> None:
    import shutil

    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    no_template = tmp_path / "no-template"
    shutil.copytree(tiny_model_dir, no_template)
    config = json.loads((no_template / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (no_template / "tokenizer_config.json").write_text(json.dumps(config))
    (no_template / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(PipelineError, match="no chat template"):
        training.load_tokenizer(no_template, "tokens")

    words = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1}, unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    with pytest.raises(PipelineError, match="cannot encode the TERSE marker"):
        style_tokens.add_to_tokenizer(PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]"), "text")

    with pytest.raises(PipelineError, match=r"train_stage2\.max_length 9000 exceeds the base model's context of 4096"):
        training.check_context(tiny_model_dir, 9000, "train_stage2")

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["train_stage1"]["freeze_style_rows"] = True
    with pytest.raises(PipelineError, match=r"train_stage1\.freeze_style_rows must be false"):
        params.parse(raw)

    loaded = params.load(REPO / "params.yaml")
    on_cpu = loaded.train_.model_copy(update={"precision": "bf16"})
    if not torch.cuda.is_available():
        with pytest.raises(PipelineError, match=r"train\.precision: bf16 needs a CUDA GPU"):
            training.choose_hardware(on_cpu)
        assert training.choose_hardware(loaded.train_) == training.Hardware("cpu", "none", "fp32")
        for key in ("activation_offloading", "embedding_offloading"):
            with pytest.raises(PipelineError, match=rf"train\.{key}: cpu needs a CUDA GPU"):
                training.choose_hardware(loaded.train_.model_copy(update={key: "cpu"}))
        assert training.choose_hardware(loaded.train_.model_copy(update={"compile": "layers"})).compile_layers
    two_processes = loaded.train_.distributed.model_copy(update={"processes": 2})
    with pytest.raises(PipelineError, match=r"train\.compile: layers is measured on one GPU only"):
        training.choose_hardware(loaded.train_.model_copy(update={"compile": "layers", "distributed": two_processes}))
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["train"]["compile"] = "yes"
    with pytest.raises(PipelineError, match=r"train\.compile: Input should be 'auto', 'layers' or 'none'"):
        params.parse(raw)


def test_compiled_layers_keep_the_names_peft_saves(tiny_qwen3_dir: Path) -> None:
    """Regional compilation in place: each decoder layer compiles on its first call, and the adapter's
    parameter names (what save_pretrained writes and a resume loads) are those of the eager model."""
    from peft import get_peft_model

    settings, _, model, layout = cpu_base(tiny_qwen3_dir)
    model = get_peft_model(model, training.lora_config(settings, layout))
    names = list(model.state_dict())
    training.compile_layers(model)
    layers = model.get_base_model().model.layers
    assert len(layers) > 0 and all(layer._compiled_call_impl is not None for layer in layers)
    assert list(model.state_dict()) == names


def _cpu_trainer(tmp_path: Path, model_dir: Path) -> tuple[Any, list[dict]]:
    """The stage's trainer over one tokenised row, on CPU."""
    from datasets import Dataset

    settings, tokenizer, model, layout = cpu_base(model_dir)
    stage = params.load(REPO / "params.yaml").train_stage1
    args = training.sft_config(stage, settings, training.Hardware("cpu", "none", "fp32"), tmp_path, "train_stage1")
    rows = [training.tokenize({"instruction": "List the S3 buckets.", "output": "aws s3 ls", "style": "TERSE"},
                              tokenizer)]
    trainer = sft_trainer.trainer_class()(model=model, args=args, train_dataset=Dataset.from_list(rows),
                                       processing_class=tokenizer, peft_config=training.lora_config(settings, layout))
    return trainer, rows


def test_trainer_step_shortcuts_give_transformers_values(tmp_path: Path, tiny_qwen3_dir: Path) -> None:
    """The FLOP count and the gradient clipping computed from a cached parameter count and list (the
    trainer's per-step CPU savings) equal what transformers computes by walking the model each step."""
    from transformers import Trainer

    trainer, rows = _cpu_trainer(tmp_path, tiny_qwen3_dir)
    args = trainer.args
    assert args.logging_nan_inf_filter is False
    inputs = {"input_ids": torch.tensor([rows[0]["input_ids"]] * 2)}
    assert trainer.floating_point_ops(inputs) == Trainer.floating_point_ops(trainer, inputs) > 0

    generator = torch.Generator().manual_seed(0)
    trainable = [p for p in trainer.model.parameters() if p.requires_grad]
    gradients = [torch.randn(p.shape, generator=generator) * 10 for p in trainable]  # norm far above max_grad_norm
    clipped = []
    for clip in (trainer._clip_grad_norm, lambda model: Trainer._clip_grad_norm(trainer, model)):
        for parameter, gradient in zip(trainable, gradients, strict=True):
            parameter.grad = gradient.clone()
        norm = clip(trainer.model)
        clipped.append((norm, [parameter.grad.clone() for parameter in trainable]))
    (ours, our_grads), (theirs, their_grads) = clipped
    assert float(ours) == float(theirs) > args.max_grad_norm
    assert all(torch.equal(a, b) for a, b in zip(our_grads, their_grads, strict=True))


def test_training_mode_walks_only_when_a_module_is_in_the_other_mode(tmp_path: Path, tiny_qwen3_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """transformers calls `model.train()` every step; the trainer's model walks its modules only when one of
    them is not in the asked mode. A freshly loaded base sits in eval mode under a PEFT model in training mode."""
    trainer, _ = _cpu_trainer(tmp_path, tiny_qwen3_dir)
    model = trainer.model
    walked: list[bool] = []
    walk = torch.nn.Module.train
    monkeypatch.setattr(torch.nn.Module, "train", lambda module, mode=True: walked.append(mode) or walk(module, mode))
    modules = list(model.modules())
    assert not all(module.training for module in modules)  # the loaded base's modules are in eval mode
    for mode, walks in ((True, True), (True, False), (False, True), (False, False), (True, True)):
        walked.clear()
        assert model.train(mode) is model
        assert all(module.training == mode for module in modules)
        assert bool(walked) == walks, (mode, walks)
    modules[5].eval()  # one module switched by other code: the next call walks again
    walked.clear()
    model.train()
    assert walked and all(module.training for module in modules)
    model.eval()
    assert not any(module.training for module in modules)

    copied = copy.deepcopy(model)  # the method goes with the copy and walks the copy's modules
    assert copied.train() is copied and all(module.training for module in copied.modules())
    assert not any(module.training for module in modules)

    class CachedLayer(torch.nn.Linear):  # does more in `train` than set the flag, as PEFT's DoRA layers do
        def train(self, mode: bool = True) -> "CachedLayer":
            return super().train(mode)

    model.base_model.model.cached = CachedLayer(2, 2)
    del model.__dict__["train"]
    assert not sft_trainer.skip_needless_mode_walks(model) and "train" not in model.__dict__


def test_embedding_offloading_auto_keeps_a_tied_table_and_cpu_refuses_it(tmp_path: Path,
                                                                          tiny_model_dir: Path) -> None:
    """What `apply_hardware` does where the input table cannot leave the GPU: the tiny Llama's LM head is its
    embedding. `auto` goes on without offloading and says so in the hardware it returns; `cpu` stops with why."""
    trainer, _ = _cpu_trainer(tmp_path, tiny_model_dir)
    hardware = training.Hardware("cpu", "none", "fp32", offload_embedding=True)
    settings = params.load(REPO / "params.yaml").train_
    assert training.apply_hardware(trainer, hardware, settings) == training.Hardware("cpu", "none", "fp32")
    with pytest.raises(PipelineError, match=r"train\.embedding_offloading: cpu cannot move this model's input "
                                            r"embedding to CPU memory: the LM head shares it \(tied embeddings\)"):
        training.apply_hardware(trainer, hardware, settings.model_copy(update={"embedding_offloading": "cpu"}))


@pytest.mark.parametrize("mode", ["non_padding", "all"])
def test_token_count_read_at_logs_and_checkpoints_equals_transformers(tmp_path: Path, tiny_qwen3_dir: Path,
                                                                     mode: str) -> None:
    """The tokens seen, summed on the device and read when a log or a checkpoint is written, are the count
    transformers reads back every step: with an attention mask, padding-free with a pad token, without one."""
    from transformers import Trainer

    trainer, rows = _cpu_trainer(tmp_path, tiny_qwen3_dir)
    trainer.args.include_num_input_tokens_seen = mode
    ids = torch.tensor([rows[0]["input_ids"]])
    padded = torch.cat([ids, torch.full((1, 5), trainer.processing_class.pad_token_id)], dim=1)
    batches = [{"input_ids": padded, "attention_mask": (padded != trainer.processing_class.pad_token_id).long()},
               {"input_ids": padded, "position_ids": torch.arange(padded.shape[1])[None]}]
    for batch in batches:
        Trainer._track_num_input_tokens(trainer, batch)
    expected, trainer.state.num_input_tokens_seen = trainer.state.num_input_tokens_seen, 0
    assert expected == (2 * ids.shape[1] if mode == "non_padding" else 2 * padded.shape[1])
    for batch in batches:
        trainer._track_num_input_tokens(batch)
    assert trainer.state.num_input_tokens_seen == 0  # nothing read back yet
    trainer.log({"loss": 1.0})
    assert trainer.state.num_input_tokens_seen == expected
    assert trainer.state.log_history[-1]["num_input_tokens_seen"] == expected

    trainer.processing_class.pad_token_id, pad = None, trainer.processing_class.pad_token_id
    try:  # no pad token: every token of a padding-free row counts, in both
        Trainer._track_num_input_tokens(trainer, batches[1])
        expected = trainer.state.num_input_tokens_seen
        trainer._track_num_input_tokens(batches[1])
        trainer.state.global_step = 1
        trainer.create_optimizer_and_scheduler(num_training_steps=1)  # a checkpoint holds their states
        trainer._save_checkpoint(trainer.model, None)
    finally:
        trainer.processing_class.pad_token_id = pad
    saved = json.loads((tmp_path / "checkpoint-1" / "trainer_state.json").read_text())
    assert saved["num_input_tokens_seen"] == trainer.state.num_input_tokens_seen == expected + padded.shape[1]


def test_text_markers_add_no_tokens_and_train_no_rows(tiny_model_dir: Path) -> None:
    tokenizer = training.load_tokenizer(tiny_model_dir, "text")
    assert chat.STYLE_TOKENS["TERSE"] not in tokenizer.get_vocab()
    loaded = params.load(REPO / "params.yaml")
    settings = loaded.train_.model_copy(update={"style_markers": "text"})
    _, layout = training.load_base(tiny_model_dir, tokenizer, settings, training.choose_hardware(settings))
    assert layout["rows_after"] == layout["rows_before"] == 1024 and not layout["token_ids"]
    assert training.lora_config(settings, layout).trainable_token_indices is None
    example = training.tokenize({"instruction": "Hi?", "output": "Hello.", "style": "TERSE"}, tokenizer)
    assert _masked_text(tokenizer, example) == "Hello." + tokenizer.eos_token
