"""The content rules for raw rows as a great-expectations 1.x suite. Each expectation carries the
reason code it stands for; its unexpected rows (by raw line number) become that reason."""

from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig

from stages.params import SourceParams


def rules(source: SourceParams, max_length: int) -> list[gx.expectations.Expectation]:
    checks = [
        gx.expectations.ExpectColumnValuesToBeInSet(
            column="style", value_set=["TERSE", "VERBOSE"], meta={"reason": "unknown_style"}),
        gx.expectations.ExpectColumnValuesToBeNull(
            column="exact_duplicate_of", meta={"reason": "duplicate_exact"}),
        gx.expectations.ExpectColumnValuesToBeNull(
            column="normalised_duplicate_of", meta={"reason": "duplicate_normalised"}),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="conversation_tokens", max_value=max_length, meta={"reason": "too_long"}),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="output_tokens", max_value=source.terse_max_tokens, row_condition='style=="TERSE"',
            condition_parser="pandas", meta={"reason": "terse_too_long"}),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="output_tokens", min_value=source.verbose_min_tokens, row_condition='style=="VERBOSE"',
            condition_parser="pandas", meta={"reason": "verbose_too_short"}),
    ]
    if source.require_code:
        checks.append(gx.expectations.ExpectColumnValuesToBeBetween(
            column="code_blocks", min_value=1, meta={"reason": "no_code"}))
    return checks


def run(name: str, frame: pd.DataFrame, checks: list[gx.expectations.Expectation],
        docs_dir: Path) -> dict[int, list[str]]:
    """Validate `frame` (one row per structurally valid raw line, with a `line` column), build the
    Data Docs under `docs_dir`, and return the reason codes that failed for each line."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # one line per stage, not per metric
    asset = context.data_sources.add_pandas(name).add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe("all rows")
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for check in checks:
        suite.add_expectation(check)
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    context.add_data_docs_site(site_name="reports", site_config={
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir.resolve())},
    })
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=name,
        validation_definitions=[definition],
        actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=["reports"])],
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["line"]},
    ))
    result = checkpoint.run(batch_parameters={"dataframe": frame})

    failures: dict[int, list[str]] = {}
    for validation in result.run_results.values():
        for outcome in validation.results:
            if outcome.success:
                continue
            reason = outcome.expectation_config.meta["reason"]
            unexpected: list[Any] = outcome.result.get("unexpected_index_list") or []
            if outcome.exception_info and outcome.exception_info.get("raised_exception"):
                raise RuntimeError(f"expectation for {reason} failed to run: {outcome.exception_info}")
            for entry in unexpected:
                failures.setdefault(int(entry["line"]), []).append(reason)
    return failures
