"""Batched greedy generation in the training format: the model's own chat template, thinking off,
the style marker at the start of the user turn. The vLLM offline engine when vLLM is installed and a GPU
is there; otherwise transformers' batched generate with left padding. Both decode the same token ids,
rendered here by the model's own tokenizer, so a model directory is evaluated the same way either way."""

import gc
import importlib.util
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from stages import chat

GROUPED_SDPA = "sdpa_grouped_heads"


def grouped_sdpa(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                 attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                 is_causal: bool | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """SDPA that lets the kernel share each key/value head among its query heads. transformers' own SDPA path
    copies the key/value heads out to every query head whenever a padding mask is present (CUDA's fused kernels
    need that); on the CPU that copy of the whole cache, every layer and every step, costs more than the
    attention itself: 1.0 s vs 0.1 s a decode step for 50 answers at 300 tokens, identical outputs
    (SmolLM2: 9 query heads share 3 key/value heads)."""
    causal = query.shape[2] > 1 and attention_mask is None and (getattr(module, "is_causal", True)
                                                                if is_causal is None else is_causal)
    output = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, dropout_p=dropout,
                                            scale=scaling, is_causal=causal, enable_gqa=key.shape[1] != query.shape[1])
    return output.transpose(1, 2).contiguous(), None


def load_model(model_dir: Path) -> tuple[Any, Any]:
    """A merged or AWQ model directory, ready to generate: bf16 on CUDA; fp32 on CPU, which has no fast
    bf16 arithmetic (bf16 and int4-times-scale weights widen to fp32 exactly, so nothing changes but speed),
    with the grouped-heads attention above."""
    from transformers import AttentionInterface, AutoModelForCausalLM, AutoTokenizer
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    cuda = torch.cuda.is_available()
    if not cuda:
        AttentionInterface.register(GROUPED_SDPA, grouped_sdpa)
        AttentionMaskInterface.register(GROUPED_SDPA, sdpa_mask)  # the masks SDPA takes
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16 if cuda else torch.float32,
                                                 device_map={"": 0} if cuda else None,
                                                 attn_implementation="sdpa" if cuda else GROUPED_SDPA)
    model.eval()
    return model, AutoTokenizer.from_pretrained(model_dir)


def prompts(rows: list[dict[str, Any]], style: str) -> list[list[dict[str, str]]]:
    return [chat.messages({**row, "style": style}, with_answer=False) for row in rows]


def backend() -> str:
    return "vllm" if importlib.util.find_spec("vllm") and torch.cuda.is_available() else "transformers"


def render(tokenizer: Any, conversations: list[list[dict[str, str]]]) -> list[list[int]]:
    return [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=True, return_dict=False,
                                          enable_thinking=False) for c in conversations]


def _answer(tokenizer: Any, tokens: list[int], end_of_turn: int) -> dict[str, Any]:
    """`stopped` says whether the end of turn came before max_new_tokens (an answer cut short still counts
    its tokens)."""
    stopped = end_of_turn in tokens
    tokens = tokens[: tokens.index(end_of_turn)] if stopped else tokens
    return {"text": tokenizer.decode(tokens, skip_special_tokens=True), "tokens": len(tokens), "token_ids": tokens,
            "stopped": stopped}


@torch.no_grad()
def _greedy_shrinking(model: Any, tokenizer: Any, ids: list[list[int]], max_new_tokens: int,
                      chunk: int) -> list[list[int]]:
    """Greedy tokens for one left-padded batch, `chunk` tokens per generate call; between calls the answers
    that ended leave the batch and the cache (DynamicCache.batch_select_indices), so the long answers no longer
    pay for the short ones' padding. Continuing from the cache computes what one long call computes."""
    end_of_turn = tokenizer.eos_token_id
    batch = tokenizer.pad({"input_ids": ids}, return_tensors="pt").to(model.device)
    sequences, mask, cache = batch["input_ids"], batch["attention_mask"], None
    active, produced, made = list(range(len(ids))), [[] for _ in ids], 0
    while active and made < max_new_tokens:
        step = min(chunk, max_new_tokens - made)
        output = model.generate(input_ids=sequences, attention_mask=mask, past_key_values=cache, max_new_tokens=step,
                                do_sample=False, eos_token_id=end_of_turn, return_dict_in_generate=True,
                                pad_token_id=tokenizer.pad_token_id or end_of_turn)
        new = output.sequences[:, sequences.shape[1]:]
        keep = []
        for position, (row, tokens) in enumerate(zip(active, new.tolist(), strict=True)):
            produced[row] += tokens
            if end_of_turn not in tokens:
                keep.append(position)
        made += new.shape[1]
        active = [active[position] for position in keep]
        if not active:  # every answer ended in this chunk: nothing left to select
            break
        index = torch.tensor(keep, dtype=torch.long, device=model.device)
        cache = output.past_key_values
        cache.batch_select_indices(index)
        sequences = output.sequences[index]
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], new.shape[1])], dim=1)[index]
    return produced


def generate(model: Any, tokenizer: Any, conversations: list[list[dict[str, str]]], max_new_tokens: int,
             batch_size: int = 8, chunk: int = 32) -> list[dict[str, Any]]:
    """Greedy answers with transformers, in batches padded on the left (decoder-only generation continues
    from the right edge)."""
    tokenizer.padding_side = "left"
    answers = []
    for start in range(0, len(conversations), batch_size):
        ids = render(tokenizer, conversations[start:start + batch_size])
        answers += [_answer(tokenizer, tokens, tokenizer.eos_token_id)
                    for tokens in _greedy_shrinking(model, tokenizer, ids, max_new_tokens, chunk)]
    return answers


Request = tuple[list[dict[str, str]], int]  # a conversation and its max_new_tokens


def generate_vllm(model_dir: Path, requests: list[Request], seed: int) -> list[dict[str, Any]]:
    """Greedy answers with vLLM's offline engine (continuous batching): temperature 0, the same rendered
    token ids as the transformers path, stopping at the tokenizer's end of turn only."""
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    end_of_turn = tokenizer.eos_token_id
    engine = LLM(model=str(model_dir), dtype="auto", seed=seed, enable_prefix_caching=True)
    sampling = [SamplingParams(temperature=0.0, max_tokens=limit, stop_token_ids=[end_of_turn])
                for _, limit in requests]
    outputs = engine.generate([{"prompt_token_ids": ids} for ids in render(tokenizer, [c for c, _ in requests])],
                              sampling)
    # vLLM leaves the stop token out of token_ids; put it back so both paths read `stopped` the same way.
    answers = [_answer(tokenizer, [*o.outputs[0].token_ids, *([end_of_turn] if o.outputs[0].finish_reason == "stop"
                                                              else [])], end_of_turn) for o in outputs]
    del engine
    gc.collect()
    return answers


def answer_all(model_dir: Path, requests: list[Request], batch_size: int, seed: int) -> list[dict[str, Any]]:
    """Greedy answers from a model directory, in request order, with the best backend available. The
    transformers path batches requests of equal max_new_tokens together: a batch runs to its longest answer."""
    if backend() == "vllm":
        return generate_vllm(model_dir, requests, seed)
    model, tokenizer = load_model(model_dir)
    answers: list[dict[str, Any]] = [{}] * len(requests)
    for limit in sorted({limit for _, limit in requests}):
        positions = [i for i, (_, wanted) in enumerate(requests) if wanted == limit]
        for position, answer in zip(positions, generate(model, tokenizer, [requests[i][0] for i in positions], limit,
                                                        batch_size), strict=True):
            answers[position] = answer
    del model
    gc.collect()
    return answers
