"""Chat formatting: rows become messages in the base model's own chat template, with the style marker
at the start of the user turn (DESIGN.md decisions 3 and 4)."""

from typing import Any

from stages import PipelineError

STYLE_TOKENS = {"TERSE": "<STYLE_TERSE>", "VERBOSE": "<STYLE_VERBOSE>"}
IAC_SYSTEM_PROMPT = "You are an expert in Infrastructure as Code."


def user_content(row: dict[str, Any]) -> str:
    text = row["instruction"]
    if row.get("input"):
        text = f"{text}\n\n{row['input']}"
    return f"{STYLE_TOKENS[row['style']]} {text}"


def messages(row: dict[str, Any], with_answer: bool = True) -> list[dict[str, str]]:
    conversation = []
    if row.get("system"):
        conversation.append({"role": "system", "content": row["system"]})
    conversation.append({"role": "user", "content": user_content(row)})
    if with_answer:
        conversation.append({"role": "assistant", "content": row["output"]})
    return conversation


def require_chat_template(tokenizer: Any, where: str) -> None:
    if not getattr(tokenizer, "chat_template", None):
        raise PipelineError(
            f"the tokenizer in {where} has no chat template. Training and serving must use the model's own "
            "template: pick an instruct/chat model, or add the template to tokenizer_config.json."
        )


def conversation_tokens(tokenizer: Any, row: dict[str, Any]) -> int:
    """Length of the whole templated conversation. Before the style tokens exist, the marker counts
    as the several plain-text tokens it splits into: an upper bound on the trained length."""
    return len(tokenizer.apply_chat_template(messages(row), tokenize=True, return_dict=False, enable_thinking=False))


def text_tokens(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])
