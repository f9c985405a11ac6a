"""Batched greedy generation in the training format: the model's own chat template, thinking off,
the style marker at the start of the user turn. Used by the parity stage and the verbosity measurements."""

from pathlib import Path
from typing import Any

import torch

from stages import chat


def load_model(model_dir: Path) -> tuple[Any, Any]:
    """A merged or AWQ model directory, ready to generate: bf16 on CUDA; fp32 on CPU, which has no fast
    bf16 arithmetic (bf16 and int4-times-scale weights widen to fp32 exactly, so nothing changes but speed)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cuda = torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16 if cuda else torch.float32,
                                                 device_map={"": 0} if cuda else None)
    model.eval()
    return model, AutoTokenizer.from_pretrained(model_dir)


def prompts(rows: list[dict[str, Any]], style: str) -> list[list[dict[str, str]]]:
    return [chat.messages({**row, "style": style}, with_answer=False) for row in rows]


@torch.no_grad()
def generate(model: Any, tokenizer: Any, conversations: list[list[dict[str, str]]], max_new_tokens: int,
             batch_size: int = 8) -> list[dict[str, Any]]:
    """Greedy answers with their token counts; `stopped` says whether the end-of-turn came before
    max_new_tokens (an answer cut short still counts its tokens)."""
    tokenizer.padding_side = "left"  # decoder-only generation continues from the right edge
    end_of_turn = tokenizer.eos_token_id
    answers = []
    for start in range(0, len(conversations), batch_size):
        texts = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False, enable_thinking=False)
                 for c in conversations[start:start + batch_size]]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        output = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=end_of_turn,
                                pad_token_id=tokenizer.pad_token_id or end_of_turn)
        for sequence in output[:, batch["input_ids"].shape[1]:].tolist():
            stopped = end_of_turn in sequence
            tokens = sequence[: sequence.index(end_of_turn)] if stopped else sequence
            answers.append({"text": tokenizer.decode(tokens, skip_special_tokens=True), "tokens": len(tokens),
                            "token_ids": tokens, "stopped": stopped})
    return answers


def style_ratio(model: Any, tokenizer: Any, rows: list[dict[str, Any]], max_new_tokens: int,
                batch_size: int = 32) -> dict[str, Any]:
    """Mean generated tokens under each style and their ratio: the verbosity separation."""
    result: dict[str, Any] = {}
    for style in chat.STYLE_TOKENS:
        answers = generate(model, tokenizer, prompts(rows, style), max_new_tokens, batch_size)
        result[style] = {"mean_tokens": sum(a["tokens"] for a in answers) / len(answers),
                         "stopped": sum(a["stopped"] for a in answers)}
    result["ratio"] = round(result["VERBOSE"]["mean_tokens"] / max(result["TERSE"]["mean_tokens"], 1.0), 3)
    return result
