"""Latency of an OpenAI-compatible chat endpoint, measured as `vllm bench serve` measures it and under its
metric names: TTFT (request sent to first answer token), TPOT (the rest of the answer per token after the
first), ITL (the gaps between streamed tokens), E2EL (request sent to last byte), each as mean, p50 and p90
in milliseconds. Requests stream at temperature 0 with a fixed max_tokens, held exactly that long where the
server can (vLLM's ignore_eos, transformers serve's min_new_tokens), so short and long mean what they say.

A failed request is counted and its error kept, never dropped from the counts: the metrics say how many
completed, and a run with failures is marked incomplete and exits non-zero, after writing what it has."""

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from stages import PipelineError, chat, serving
from stages.params import BenchParams
from stages.rows import read_jsonl

CHAT_PATH = "/v1/chat/completions"
LENGTH_FIELDS = {  # what each server takes to keep generating past the end of turn
    "ignore_eos": lambda tokens: {"ignore_eos": True},
    "min_new_tokens": lambda tokens: {"generation_config": json.dumps({"min_new_tokens": tokens})},
    "none": lambda tokens: {},
}


@dataclass
class Outcome:
    """One streamed request, timed on the client."""

    error: str | None = None
    ttft_s: float | None = None
    itl_s: list[float] = field(default_factory=list)
    e2el_s: float | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None
    text: str = ""


def messages(row: dict[str, Any], style: str) -> list[dict[str, str]]:
    """What a client sends: the style token at the start of its user message, as in training."""
    return chat.messages({**row, "style": style}, with_answer=False)


def request_body(model: str, conversation: list[dict[str, str]], max_tokens: int, length_control: str) -> dict:
    return {"model": model, "messages": conversation, "max_tokens": max_tokens, "temperature": 0.0,
            "stream": True, "stream_options": {"include_usage": True}, **LENGTH_FIELDS[length_control](max_tokens)}


def _server_detail(status: int, body: bytes) -> str:
    try:
        detail: Any = json.loads(body)
    except ValueError:
        detail = body.decode(errors="replace")[:300]
    if isinstance(detail, dict):  # FastAPI says "detail", vLLM and OpenAI say {"error": {"message": ...}}
        detail = detail.get("detail") or detail.get("error") or detail.get("message") or detail
    if isinstance(detail, dict):
        detail = detail.get("message", detail)
    return f"HTTP {status}: {detail}"


async def stream_one(client: httpx.AsyncClient, base_url: str, body: dict) -> Outcome:
    outcome = Outcome()
    start = last = time.perf_counter()
    try:
        async with client.stream("POST", base_url + CHAT_PATH, json=body) as response:
            if response.status_code != 200:
                outcome.error = _server_detail(response.status_code, await response.aread())
                return outcome
            content_type = response.headers.get("content-type", "")
            if not content_type.startswith("text/event-stream"):
                await response.aread()
                outcome.error = f"the server answered without streaming (content-type {content_type or 'none'})"
                return outcome
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[len("data:"):].strip()
                if payload == "[DONE]":
                    break
                try:
                    chunk = json.loads(payload)
                except ValueError:  # transformers serve writes its errors into JSON unescaped
                    chunk = None
                if not isinstance(chunk, dict):
                    outcome.error = f"the server streamed a line that is not a JSON object: {payload[:200]!r}"
                    return outcome
                if "error" in chunk:
                    outcome.error = f"the server reported: {chunk['error']}"
                    return outcome
                if chunk.get("usage"):
                    outcome.prompt_tokens = chunk["usage"].get("prompt_tokens")
                    outcome.output_tokens = chunk["usage"].get("completion_tokens")
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if delta.get("content") or delta.get("reasoning_content"):
                        outcome.text += delta.get("content") or ""
                        now = time.perf_counter()
                        if outcome.ttft_s is None:
                            outcome.ttft_s = now - start
                        else:
                            outcome.itl_s.append(now - last)
                        last = now
                    outcome.finish_reason = choice.get("finish_reason") or outcome.finish_reason
    except httpx.HTTPError as exc:  # refused, reset, timed out, or the server died mid-answer
        outcome.error = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
        return outcome
    outcome.e2el_s = time.perf_counter() - start
    if outcome.finish_reason is None:
        outcome.error = "the stream ended before the answer finished"
    elif outcome.output_tokens is None:  # no usage: every streamed chunk counts as one token
        outcome.output_tokens = len(outcome.itl_s) + (outcome.ttft_s is not None)
    return outcome


def _summary(values: list[float], name: str) -> dict[str, float | None]:
    if not values:
        return {f"mean_{name}_ms": None, f"p50_{name}_ms": None, f"p90_{name}_ms": None}
    milliseconds = np.asarray(values) * 1000.0
    return {f"mean_{name}_ms": round(float(milliseconds.mean()), 3),
            f"p50_{name}_ms": round(float(np.percentile(milliseconds, 50)), 3),
            f"p90_{name}_ms": round(float(np.percentile(milliseconds, 90)), 3)}


def metrics(outcomes: list[Outcome], duration_s: float, max_tokens: int, length_control: str) -> dict[str, Any]:
    """vLLM's definitions: TPOT per request over its tokens after the first, ITL over every gap of every
    request."""
    done = [outcome for outcome in outcomes if outcome.error is None]
    errors: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.error is not None:
            errors[outcome.error] = errors.get(outcome.error, 0) + 1
    output_tokens = sum(outcome.output_tokens or 0 for outcome in done)
    # An answer of special tokens only streams no text: it has no first-token time.
    timed = [outcome for outcome in done if outcome.ttft_s is not None]
    tpots = [(outcome.e2el_s - outcome.ttft_s) / (outcome.output_tokens - 1)
             for outcome in timed if (outcome.output_tokens or 0) > 1]
    return {
        "requests": len(outcomes), "completed": len(done), "failed": len(outcomes) - len(done),
        "errors": [{"error": error, "count": count} for error, count in errors.items()],
        "max_tokens": max_tokens, "length_control": length_control,
        "fixed_length": all(outcome.output_tokens == max_tokens for outcome in done) if done else None,
        "total_input_tokens": sum(outcome.prompt_tokens or 0 for outcome in done), "total_output_tokens": output_tokens,
        "duration_s": round(duration_s, 3),
        "request_throughput": round(len(done) / duration_s, 4) if duration_s else None,
        "output_throughput": round(output_tokens / duration_s, 3) if duration_s else None,
        **_summary([outcome.ttft_s for outcome in timed], "ttft"), **_summary(tpots, "tpot"),
        **_summary([gap for outcome in done for gap in outcome.itl_s], "itl"),
        **_summary([outcome.e2el_s for outcome in done], "e2el"),
    }


async def run_set(base_url: str, bodies: list[dict], concurrency: int, timeout_s: float) -> tuple[list[Outcome], float]:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
        async def bounded(body: dict) -> Outcome:
            async with gate:
                try:
                    async with asyncio.timeout(timeout_s):  # the whole request: httpx times each read only
                        return await stream_one(client, base_url, body)
                except TimeoutError:
                    return Outcome(error=f"no complete answer within bench.timeout_s {timeout_s} s")

        start = time.perf_counter()
        outcomes = await asyncio.gather(*(bounded(body) for body in bodies))
    return list(outcomes), time.perf_counter() - start


def prompt_rows(source: str, count: int, key: str) -> list[dict[str, Any]]:
    """`count` rows of a JSONL, cycled in file order: every run asks the same."""
    path = Path(source)
    if not path.exists():
        raise PipelineError(f"{key}: {path} not found (the split stage writes data/splits/)")
    rows = list(read_jsonl(path))
    if not rows:
        raise PipelineError(f"{key}: {path} has no rows")
    return [rows[i % len(rows)] for i in range(count)]


def preflight(base_url: str, model: str, wanted: str, timeout_s: float) -> str:
    """Reach the server, check it knows the model, and find how it holds answers at max_tokens: the first
    request, which also warms it up (as vllm bench serve's test prompt does). Returns the length control."""
    try:
        listed = serving.listed_models(base_url)
    except httpx.HTTPError as exc:
        raise PipelineError(f"cannot reach {base_url}: {exc.__class__.__name__}: {exc}. Start the server "
                            "(`qwen-iac serve`) or set bench.url") from None
    candidates = [wanted] if wanted != "auto" else ["ignore_eos", "min_new_tokens", "none"]
    conversation = [{"role": "user", "content": f"{chat.STYLE_TOKENS['TERSE']} Say hello."}]
    for control in candidates:
        outcome = asyncio.run(run_set(base_url, [request_body(model, conversation, 4, control)], 1, timeout_s))[0][0]
        if outcome.error is None:
            return control
        refused_field = any(name in outcome.error for name in ("ignore_eos", "generation_config", "min_new_tokens"))
        if not (refused_field and wanted == "auto"):
            names = ", ".join(entry["id"] for entry in listed[:10]) or "none"
            hint = f" Check bench.model; the server lists: {names}" if outcome.error.startswith("HTTP 4") else ""
            raise PipelineError(f"the first request to {base_url} for model {model!r} failed: {outcome.error}.{hint}")
    raise AssertionError("length control 'none' adds no field, so a server that refused it raised above")


def style_check(base_url: str, model: str, rows: list[dict[str, Any]], max_tokens: int,
                timeout_s: float) -> dict[str, Any]:
    """TERSE and VERBOSE asked through the API, greedy and unforced: what a client gets."""
    by_style = {}
    for style in chat.STYLE_TOKENS:
        bodies = [request_body(model, messages(row, style), max_tokens, "none") for row in rows]
        by_style[style] = asyncio.run(run_set(base_url, bodies, 1, timeout_s))[0]
    failed = [outcome.error for outcomes in by_style.values() for outcome in outcomes if outcome.error]
    if failed:
        return {"prompts": len(rows), "failed": len(failed), "errors": sorted(set(failed))}
    mean = {style: float(np.mean([outcome.output_tokens for outcome in outcomes]))
            for style, outcomes in by_style.items()}
    return {"prompts": len(rows), "failed": 0, "max_tokens": max_tokens,
            "terse_mean_tokens": round(mean["TERSE"], 2), "verbose_mean_tokens": round(mean["VERBOSE"], 2),
            "ratio": round(mean["VERBOSE"] / mean["TERSE"], 3) if mean["TERSE"] else None,
            "answers": {style: [outcome.output_tokens for outcome in outcomes] for style, outcomes in by_style.items()}}


def run(bench: BenchParams, base_url: str, model: str,
        on_set: Callable[[str, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Every prompt set in turn, then the style check; `on_set(name, metrics)` is called after each set."""
    rows = {name: prompt_rows(prompt_set.source, bench.requests, f"bench.prompt_sets.{name}.source")
            for name, prompt_set in bench.prompt_sets.items()}
    style_rows = prompt_rows(bench.style.source, bench.style.prompts, "bench.style.source") if bench.style.prompts \
        else []
    control = preflight(base_url, model, bench.length_control, bench.timeout_s)
    result: dict[str, Any] = {"url": base_url, "model": model, "concurrency": bench.concurrency, "sets": {}}
    for name, prompt_set in bench.prompt_sets.items():
        bodies = [request_body(model, messages(row, prompt_set.style), prompt_set.max_tokens, control)
                  for row in rows[name]]
        outcomes, duration = asyncio.run(run_set(base_url, bodies, bench.concurrency, bench.timeout_s))
        result["sets"][name] = metrics(outcomes, duration, prompt_set.max_tokens, control)
        if on_set:
            on_set(name, result["sets"][name])
    if style_rows:
        result["style"] = style_check(base_url, model, style_rows, bench.style.max_tokens, bench.timeout_s)
    result["complete"] = all(measured["failed"] == 0 for measured in result["sets"].values()) and not (
        result.get("style", {}).get("failed"))
    return result
