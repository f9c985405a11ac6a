"""Stage `base_model`: resolve `model.base` into models/base/ in Hugging Face layout and record
what it is in metrics/base_model.json."""

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from stages import model_io
from stages.params import Params


def run(params: Params, out_dir: Path = Path("models/base"),
        metrics_path: Path = Path("metrics/base_model.json"), console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    source = model_io.resolve(params.model.base, params.model.revision)
    console.print(f"base model: {source.kind} source {source.uri}")
    origin = model_io.materialise(source, out_dir, params.model.dtype)
    metrics = {"source": origin, **model_io.describe(out_dir)}
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {out_dir}: {metrics['architecture']}, {metrics['parameters']:,} parameters, "
                  f"vocabulary {metrics['vocab_size_tokenizer']:,}, embedding rows {metrics['embedding_rows']}")
    return metrics
