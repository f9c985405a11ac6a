"""TRL's SFTTrainer as the training stages run it: the style rows in their own optimizer group, and the per-step
work of transformers' loop that stalls a GPU done once or on the device (benchmarks/train_throughput.py --profile)."""

import types
from typing import Any

import torch


def train(model: Any, mode: bool = True) -> Any:
    """`nn.Module.train` that walks the modules only when some module is in the other mode. Named as the method
    it replaces, which is how a pickled bound method finds it again."""
    if any(module.training != mode for module in model.__dict__["_modules_for_mode"]):
        type(model).train(model, mode)
        model.__dict__["_modules_for_mode"] = list(model.modules())
    return model


def skip_needless_mode_walks(model: Any) -> bool:
    """transformers puts the model in training mode at every step (`model.train()`), a walk that sets the flag
    on every module: about 3,400 for Qwen3-14B with LoRA, which left the GPU idle 18 ms before each step's
    first kernel in the H100 profile (benchmarks/train_throughput.py --profile). After this, `model.train(mode)`
    and `model.eval()` walk only when some module is in the other mode: reading the flags takes 0.3 ms where the
    walk takes 9.5 (one CPU core). It holds while no module is added during training (a module is made in
    training mode) and none does more in `train` than set the flag: False, changing nothing, where one does
    (PEFT's DoRA layers clear a cache there)."""
    from transformers import PreTrainedModel

    modules = list(model.modules())
    # PreTrainedModel's `train` does more only when the mode changes, which walks
    if any(type(module).train not in (torch.nn.Module.train, PreTrainedModel.train) for module in modules):
        return False
    model.__dict__["_modules_for_mode"] = modules
    model.train = types.MethodType(train, model)  # a method: a deep copy of the model binds it to the copy
    return True


def trainer_class(style_rows_lr_multiplier: float = 1.0) -> type:
    """TRL's SFTTrainer with the style rows in their own optimizer group: two embedding rows learn slowly at a
    LoRA learning rate (textual inversion trains embeddings at a higher rate for the same reason). Besides: the
    model's cross-entropy where TRL's fused LM head has no kernel (CPU), the LM head's bias for a tied head, and
    per-step work of transformers' loop done once or on the device."""
    from transformers import Trainer
    from trl import SFTTrainer
    from trl.trainer import utils as trl_utils

    from stages.embedding import use_style_rows

    class StyleTokenSFTTrainer(SFTTrainer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._parameter_count: int | None = None
            self._trainable_parameters: list[torch.nn.Parameter] | None = None
            self._pending_token_count: torch.Tensor | None = None
            use_style_rows(self.model)  # the style rows embedded without a copy of the whole embedding
            skip_needless_mode_walks(self.model)
            # Tied embeddings: PEFT wraps lm_head in a TrainableTokensWrapper that forwards `weight` (the
            # merged rows) but not `bias`, which TRL's fused LM head reads (DESIGN.md decision 4).
            head = self.model.get_output_embeddings()
            if hasattr(head, "token_adapter") and "bias" not in vars(head):
                head.bias = head.token_adapter.base_layer.bias

        def compute_loss(self, model: Any, inputs: dict, return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            # TRL 1.15's fused LM head runs a Triton kernel, which CPU-only torch lacks: use the model's
            # own cross-entropy there. On CUDA, TRL's path as is.
            if trl_utils._ChunkedLogProbFunction is None:
                return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

        # Two per-step costs of transformers' loop that walk the whole PEFT model (about 3,400 modules and 1,000
        # parameters for Qwen3-14B), tens of milliseconds of CPU in which the GPU waited
        # (benchmarks/train_throughput.py --profile). Both are computed once; the values are the same.
        def floating_point_ops(self, inputs: dict[str, Any]) -> int:
            if self._parameter_count is None:
                self._parameter_count = self.model.num_parameters(exclude_embeddings=True)
            main_input = getattr(self.model, "main_input_name", "input_ids")
            return 6 * inputs[main_input].numel() * self._parameter_count if main_input in inputs else 0

        def _clip_grad_norm(self, model: Any) -> Any:
            if self.is_fsdp_enabled or self.is_deepspeed_enabled:  # they clip their own shards
                return super()._clip_grad_norm(model)
            if self._trainable_parameters is None:  # frozen parameters have no gradient to clip
                self._trainable_parameters = [p for p in model.parameters() if p.requires_grad]
            return self.accelerator.clip_grad_norm_(self._trainable_parameters, self.args.max_grad_norm)

        def _track_num_input_tokens(self, inputs: dict[str, Any]) -> None:
            # transformers reads each step's token count back (`.item()`): the CPU waits there for the backward
            # pass, then the GPU idles while the CPU clips and launches the optimizer step. The same count is
            # summed on the device and read where transformers writes it out: logs and checkpoints.
            mode = self.args.include_num_input_tokens_seen
            ids = inputs.get(getattr(self.model, "main_input_name", "input_ids"))
            if mode == "no" or ids is None:
                return super()._track_num_input_tokens(inputs)
            pad = getattr(self.processing_class, "pad_token_id", None)
            if mode == "non_padding" and "attention_mask" in inputs:
                count = inputs["attention_mask"].sum()
            elif mode == "non_padding" and pad is not None:  # padding-free rows carry no mask
                count = (ids != pad).sum()
            else:  # every token, as transformers counts them; made on the device, not copied there (a copy waits)
                count = torch.full((), ids.numel(), device=self.args.device)
            count = self.accelerator.gather(count.to(self.args.device, torch.int64)).sum()
            pending = self._pending_token_count
            self._pending_token_count = count if pending is None else pending + count

        def _flush_token_count(self) -> None:
            if self._pending_token_count is not None:
                self.state.num_input_tokens_seen += int(self._pending_token_count)
                self._pending_token_count = None

        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            self._flush_token_count()
            super().log(logs, start_time)

        def _save_checkpoint(self, model: Any, trial: Any) -> None:
            self._flush_token_count()
            super()._save_checkpoint(model, trial)

        def create_optimizer(self, model: Any = None) -> Any:
            optimizer = super().create_optimizer(model)
            style_rows = [parameter for name, parameter in self.model.named_parameters()
                          if "trainable_tokens" in name and parameter.requires_grad]
            already = any(group.get("style_rows") for group in optimizer.param_groups)
            if style_rows and style_rows_lr_multiplier != 1.0 and not already:
                moved = {id(p) for p in style_rows}
                for group in optimizer.param_groups:
                    group["params"] = [p for p in group["params"] if id(p) not in moved]
                # Before the scheduler exists, so it scales this group's rate like the others.
                optimizer.add_param_group({"params": style_rows, "weight_decay": 0.0, "style_rows": True,
                                           "lr": self.args.learning_rate * style_rows_lr_multiplier})
            return optimizer

    return StyleTokenSFTTrainer
