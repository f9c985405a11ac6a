"""Stage `eval_public`: the public IaC benchmarks (IaC-Eval, DPIaC-Eval, CloudEval-YAML, aws
iac-model-evaluation) as extra evaluation suites for one model, scored with the same validators as eval_iac.
They are read from eval.public.path at run time and never copied into the project; with no path the stage
records that it was skipped. Out of scope, because they need a cloud account or a cluster: IaC-Eval's Rego
intent checks (`terraform plan` with credentials) and CloudEval-YAML's unit tests (a live cluster)."""

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from stages import PipelineError, chat, generation, iac_scoring, public_benchmarks
from stages.eval_iac import print_summary
from stages.params import Params
from stages.rows import prompt_text, read_jsonl, write_jsonl

METRICS, REPORT = Path("metrics/public.json"), Path("reports/public.jsonl")
# Several suites' prompts do not name the language (their own harnesses add it): say it, as they do.
ASK = {"terraform": "Answer with Terraform (HCL).", "cloudformation": "Answer with a CloudFormation template in YAML.",
       "kubernetes": "Answer with Kubernetes YAML manifests."}


def _write(root: Path, metrics: dict[str, Any], records: list[dict[str, Any]]) -> None:
    (root / METRICS).parent.mkdir(parents=True, exist_ok=True)
    (root / METRICS).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_jsonl(root / REPORT, records)


def run(params: Params, root: Path = Path("."), console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    settings = params.eval_.public
    if settings.path is None:
        metrics = {"skipped": "eval.public.path is null (set it to the folder holding the suites)"}
        _write(root, metrics, [])
        console.print(f"eval_public: {metrics['skipped']}")
        return metrics
    benchmarks = (root / settings.path).resolve()
    missing = public_benchmarks.available(benchmarks)
    suites: dict[str, Any] = {name: {"skipped": missing[name]} for name in settings.suites if missing[name]}
    tasks = [task for name in settings.suites if not missing[name]
             for task in public_benchmarks.load(name, benchmarks, settings.tasks_per_suite)]
    training_prompts = [prompt_text(row) for name in ("stage1_train", "stage2_train")
                        for row in read_jsonl(root / "data" / "splits" / f"{name}.jsonl")]
    leaks = public_benchmarks.leaks(training_prompts, tasks, params.split.near_duplicate_threshold)
    if leaks:
        _write(root, {"leaks": leaks}, [])
        raise PipelineError(f"eval_public: {len(leaks)} benchmark prompts near-duplicate training rows (never train "
                            f"on benchmarks); they are listed in {root / METRICS}")
    model_dir = root / params.eval_.models[settings.model].path
    conversations = [chat.messages({"system": chat.IAC_SYSTEM_PROMPT, "style": settings.style,
                                    "instruction": f"{task.prompt}\n\n{ASK[task.language]}"}, with_answer=False)
                     for task in tasks]
    console.print(f"eval_public: {len(tasks)} tasks from {benchmarks}, answered by {model_dir}")
    answers = generation.answer_all(model_dir, [(c, settings.max_new_tokens) for c in conversations],
                                    params.eval_.batch_size, params.train_.seed) if tasks else []
    records = iac_scoring.score([{"id": t.id, "text": a["text"], "language": t.language}
                                 for t, a in zip(tasks, answers, strict=True)],
                                params.eval_.iac.terraform_plugin_dir, params.eval_.iac.kubernetes_version)
    records = [record | {"suite": task.suite, "answer": answer["text"], "stopped": answer["stopped"]}
               for record, task, answer in zip(records, tasks, answers, strict=True)]
    for name in settings.suites:
        mine = [r for r in records if r["suite"] == name]
        if mine:
            suites[name] = iac_scoring.summarize(mine)
            print_summary(console, suites[name], f"{name}: {len(mine)} tasks")
    metrics = {"model": settings.model, "tasks_per_suite": settings.tasks_per_suite, "leaks": 0, "suites": suites}
    _write(root, metrics, records)
    return metrics
