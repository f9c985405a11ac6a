"""The style markers' place in the vocabulary and the embedding (DESIGN.md decision 4).

In `tokens` mode the markers become special tokens. Qwen3 has room for them in its padding rows
(151,669 tokens, 151,936 rows), so the embedding keeps its shape; a model with no spare rows grows to
the next multiple of 64, never shrinks. Their rows start from the mean embedding of a phrase that says
the same thing, a start the model already half understands. (Rescaling that mean to a typical token's
norm, three times longer, made the style tokens harder to learn: benchmarks/results/verbosity_sweep.json.)
Any other new rows are zero. All of it is deterministic, so every load (stage 2, merge, evaluation)
rebuilds the same matrix, and the adapter carries only the two trained rows (PEFT trainable tokens),
never a whole embedding.
In `text` mode nothing changes: the markers stay plain text, as runtime LoRA in vLLM requires."""

from typing import Any, Literal

import torch

from stages import PipelineError
from stages.chat import STYLE_TOKENS

StyleMarkers = Literal["tokens", "text"]
ROW_MULTIPLE = 64
SEED_PHRASES = {
    "TERSE": "Answer in as few words as possible: brief, short, concise.",
    "VERBOSE": "Explain in detail, step by step, with thorough reasoning and examples.",
}


def style_token_ids(tokenizer: Any) -> list[int]:
    ids = tokenizer.convert_tokens_to_ids(list(STYLE_TOKENS.values()))
    if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in ids:
        raise PipelineError("the tokenizer has no style tokens: it was not prepared by train_stage1")
    return ids


def add_to_tokenizer(tokenizer: Any, markers: StyleMarkers) -> None:
    """Idempotent: a tokenizer saved by stage 1 already has them."""
    if markers == "tokens":
        missing = [token for token in STYLE_TOKENS.values() if token not in tokenizer.get_vocab()]
        if missing:
            tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False)
    for style, marker in STYLE_TOKENS.items():
        pieces = tokenizer(marker, add_special_tokens=False)["input_ids"]
        if not pieces or tokenizer.decode(pieces) != marker:
            raise PipelineError(f"the tokenizer cannot encode the {style} marker {marker!r} (it decodes to "
                                f"{tokenizer.decode(pieces)!r}); pick another base model or train.style_markers")
        if markers == "tokens" and len(pieces) != 1:
            raise PipelineError(f"the {style} marker {marker!r} is not one token after adding it: {pieces}")


def prepare_embedding(model: Any, tokenizer: Any, markers: StyleMarkers) -> dict[str, Any]:
    """Give the style tokens rows in `model`'s embedding and set them to their seed values. Returns
    what was done, for the metrics and the model card."""
    rows_before = model.get_input_embeddings().weight.shape[0]
    layout = {"rows_before": rows_before, "rows_after": rows_before, "resized": False, "token_ids": {}}
    if markers == "text":
        return layout
    ids = style_token_ids(tokenizer)
    if max(ids) >= rows_before:
        # Fresh rows are zeroed below rather than sampled, so that the layout is reproducible.
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=ROW_MULTIPLE, mean_resizing=False)
        layout.update(resized=True, rows_after=model.get_input_embeddings().weight.shape[0])
    embedding = model.get_input_embeddings().weight
    output = model.get_output_embeddings()
    tied = output is not None and output.weight.data_ptr() == embedding.data_ptr()
    with torch.no_grad():
        if layout["resized"]:
            embedding[rows_before:] = 0
            if output is not None and not tied:
                output.weight[rows_before:] = 0
        for (style, token_id) in zip(STYLE_TOKENS, ids, strict=True):
            phrase = tokenizer(SEED_PHRASES[style], add_special_tokens=False)["input_ids"]
            embedding[token_id] = embedding[phrase].float().mean(dim=0).to(embedding.dtype)
            layout["token_ids"][style] = token_id
    return layout
