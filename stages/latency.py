"""Stage `latency` (deploy/dvc.yaml, off the default `dvc repro`): start `qwen-iac serve` on a free port,
benchmark it with the bench params, stop it. `qwen-iac bench` measures an endpoint that is already running
the same way. Both write deploy/latency.json (for `dvc metrics diff`) and reports/latency.md, also when
requests failed: the failures are in the file, which is marked incomplete, and the command exits 1."""

import json
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from stages import PipelineError, bench, serving
from stages.params import Params

METRICS = Path("deploy/latency.json")
REPORT = Path("reports/latency.md")
SERVER_LOG = Path("reports/latency_server.log")
COLUMNS = ("ttft", "tpot", "itl", "e2el")


def run(params: Params, params_file: Path, console: Console) -> dict[str, Any]:
    chosen = serving.engine(params.serve)
    model = params.bench.model or serving.served_name(params.serve, chosen)
    console.print(f"starting {chosen} for {params.serve.model} (log: {SERVER_LOG})")
    with serving.running(params, params_file, SERVER_LOG, chosen) as server:
        result = measure(params, server.url, model, console)
    return finish({"engine": chosen, "served": params.serve.model, **result}, console)


def endpoint(params: Params, base_url: str | None, model: str | None, console: Console) -> dict[str, Any]:
    """An endpoint someone else started: bench.url or serve's host and port."""
    base_url = base_url or params.bench.url or serving.url(params.serve)
    return finish(measure(params, base_url, model or params.bench.model or default_model(params, base_url),
                          console), console)


def default_model(params: Params, base_url: str) -> str:
    """vLLM lists exactly what it serves (owned_by "vllm"): when that is one model, it is the one to ask.
    Otherwise the name `serve` gives ours (transformers serve lists the hub cache instead)."""
    try:
        entries = serving.listed_models(base_url)
    except httpx.HTTPError:
        entries = []  # an unreachable server: the bench's first request says so
    served = [entry["id"] for entry in entries if entry.get("owned_by") == "vllm"]
    return served[0] if len(served) == 1 else serving.served_name(params.serve, serving.engine(params.serve))


def measure(params: Params, base_url: str, model: str, console: Console) -> dict[str, Any]:
    def progress(name: str, metrics: dict[str, Any]) -> None:
        console.print(f"{name}: {metrics['completed']}/{metrics['requests']} completed, "
                      f"p50 TTFT {metrics['p50_ttft_ms']} ms, p50 E2EL {metrics['p50_e2el_ms']} ms")

    console.print(f"benchmarking {model} at {base_url}")
    return bench.run(params.bench, base_url, model, on_set=progress)


def finish(result: dict[str, Any], console: Console, root: Path = Path(".")) -> dict[str, Any]:
    (root / METRICS).parent.mkdir(parents=True, exist_ok=True)
    (root / METRICS).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (root / REPORT).parent.mkdir(parents=True, exist_ok=True)
    (root / REPORT).write_text(markdown(result), encoding="utf-8")
    console.print(table(result))
    if not result["complete"]:
        failed = sum(measured["failed"] for measured in result["sets"].values()) + result.get("style", {}).get(
            "failed", 0)
        first = next((error["error"] for measured in result["sets"].values() for error in measured["errors"]),
                     next(iter(result.get("style", {}).get("errors", [])), "?"))
        raise PipelineError(f"{failed} requests failed (first: {first}); what completed is in {METRICS}, marked "
                            "complete: false")
    return result


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:,.1f}" if isinstance(value, float) else str(value)


def _rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, metrics in result["sets"].items():
        for statistic in ("mean", "p50", "p90"):
            rows.append([name, statistic, *(_cell(metrics[f"{statistic}_{column}_ms"]) for column in COLUMNS),
                         f"{metrics['completed']}/{metrics['requests']}"])
    return rows


HEADER = ("set", "", "TTFT ms", "TPOT ms", "ITL ms", "E2EL ms", "completed")


def table(result: dict[str, Any]) -> Table:
    rendered = Table(*HEADER, title=f"latency of {result['model']} at {result['url']}")
    for row in _rows(result):
        rendered.add_row(*row)
    return rendered


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Latency of `{result['model']}` ({result.get('engine', 'endpoint')})", "",
             f"{result['url']}, concurrency {result['concurrency']}, temperature 0, streaming. "
             f"Complete: {'yes' if result['complete'] else '**no**: see errors below'}.", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(result)]
    lines.append("")
    for name, metrics in result["sets"].items():
        lines.append(f"- {name}: max_tokens {metrics['max_tokens']} held by {metrics['length_control']} "
                     f"(every answer that long: {metrics['fixed_length']}), {metrics['output_throughput']} "
                     "output tokens/s")
        lines += [f"  - error x{error['count']}: {error['error']}" for error in metrics["errors"]]
    style = result.get("style")
    if style and not style["failed"]:
        lines.append(f"- style through the API, {style['prompts']} prompts: TERSE {style['terse_mean_tokens']} vs "
                     f"VERBOSE {style['verbose_mean_tokens']} tokens on average, ratio {style['ratio']}")
    elif style:
        lines.append(f"- style check: {style['failed']} requests failed: {'; '.join(style['errors'])}")
    return "\n".join(lines) + "\n"
