"""Every use of Great Expectations in tweetlake, in one place; checked against great_expectations 1.24.1.

Public API used as documented: ``gx.get_context(mode="file")``, ``context.variables``,
``context.data_sources.add_pandas`` and its dataframe asset, ``gx.ExpectationSuite``, ``context.suites``,
``context.build_data_docs``.

GX internals used (not its documented API; re-check them on a GX upgrade, the gate tests exercise each):

* ``Validator`` subclassed, its private ``_determine_progress_bars`` overridden: GX finds out that progress
  bars are off by reading and substituting the context's YAML config twice per validation, a cost paid per
  column set and batch. ``Validator.process_expectations_for_validation`` and ``graph_validate`` evaluate
  several expectations on one batch in one metrics graph, as ``Batch.validate`` does internally.
* ``Batch`` built by hand (``LegacyBatchDefinition``, ``RuntimeDataBatchSpec``, ``BatchMarkers``,
  ``PandasBatchData``, ``make_batch_identifier``) as ``DataFrameAsset.get_batch`` builds it, minus the
  ``pandas_data_fingerprint`` batch marker: an md5 of every cell that nothing here reads, which cost more
  than all the expectations of a batch (and ``Batch.validate`` computes it twice).
* ``ExpectationConfiguration(...).to_domain_obj()``, ``ExpectationValidationResult`` and
  ``ExpectationSuiteValidationResult`` built from our merged JSON results, stored with
  ``context.validation_results_store.store_validation_results`` under a ``ValidationResultIdentifier``
  (so the Data Docs show results GX did not compute in one piece), and ``ProgressBarsConfig``.
* Where GX's site builder writes a validation page (:func:`docs_page`) and the local site
  (:func:`site_folder`): GX's file layout, not an API.

GX's SQL datasource on DuckDB is not used: its connection closes before rows are fetched, which reads as
failures. Great Expectations is imported inside the functions: importing it costs seconds, and most
commands that import this package never validate.
"""

from __future__ import annotations

import functools
import os
import posixpath
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from expectations.results import SuiteResult

RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
# Row expectations on big batches: BASIC (counts and the first offending values). SUMMARY would add the
# positions of offending rows in the batch (meaningless once batches merge) and build, then drop, a query
# string listing every offending row; partial_unexpected_counts are made from the values as SUMMARY does.
ROW_RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 20}


def version() -> str:
    import great_expectations as gx

    return str(gx.__version__)


def context(root: str) -> Any:
    """A file context in ``root`` with progress bars and the Data Docs' "how to" buttons off."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    ctx = gx.get_context(mode="file", project_root_dir=root)
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    site = ctx.variables.data_docs_sites or {}
    for cfg in site.values():
        cfg["show_how_to_buttons"] = False
    ctx.variables.data_docs_sites = site
    ctx.variables.save()
    return gx.get_context(mode="file", project_root_dir=root)


def site_folder(root: str) -> str:
    """Where ``context(root).build_data_docs()`` writes the local site."""
    return os.path.join(root, "gx", "uncommitted", "data_docs", "local_site")


def expectation(type_: str, kwargs: dict[str, Any], description: str | None, meta: dict | None) -> Any:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    return ExpectationConfiguration(
        type=type_, kwargs=kwargs, meta=meta or {}, description=description
    ).to_domain_obj()


@functools.cache
def _validator_class() -> type:
    """GX's validator, as ``context.get_validator`` makes it, minus a config file read per validation."""
    from great_expectations.validator.validator import Validator

    class _Validator(Validator):
        def _determine_progress_bars(self) -> bool:
            return False  # progress bars are off in our context (see ``context``)

    return _Validator


class Evaluator:
    """Evaluates expectations on pandas frames through one pandas data source of a context."""

    def __init__(self, ctx: Any) -> None:
        self.context = ctx
        self.datasource = ctx.data_sources.add_pandas("lake")
        self.asset = self.datasource.add_dataframe_asset("frames")
        self.asset.add_batch_definition_whole_dataframe("frame")

    def batch(self, df: pd.DataFrame) -> Any:
        """A GX batch of ``df``, made as ``DataFrameAsset.get_batch`` makes it without the md5 marker."""
        # core.batch's BatchMarkers (GX has two), the one its pandas engine makes and ``Batch`` is typed with
        from great_expectations.core.batch import BatchMarkers, LegacyBatchDefinition
        from great_expectations.core.batch_spec import RuntimeDataBatchSpec
        from great_expectations.datasource.fluent.batch_identifier_util import make_batch_identifier
        from great_expectations.datasource.fluent.interfaces import Batch
        from great_expectations.execution_engine.pandas_batch_data import PandasBatchData

        engine = self.datasource.get_execution_engine()
        request = self.asset.build_batch_request(options={"dataframe": df})
        spec = RuntimeDataBatchSpec(batch_data=df)
        spec.batch_data = "PandasDataFrame"  # as GX leaves it: the frame lives in the batch data
        return Batch(
            datasource=self.datasource,
            data_asset=self.asset,
            batch_request=request,
            data=PandasBatchData(execution_engine=engine, dataframe=df),
            batch_markers=BatchMarkers({"ge_load_time": datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")}),
            batch_spec=spec,
            batch_definition=LegacyBatchDefinition(
                datasource_name=self.datasource.name,
                data_connector_name="fluent",
                data_asset_name=self.asset.name,
                batch_identifiers=make_batch_identifier(request.options),
            ),
        )

    def evaluate(
        self, df: pd.DataFrame, expectations: list[Any], result_format: dict[str, Any] = RESULT_FORMAT
    ) -> list[dict[str, Any]]:
        """GX's results (as JSON) of ``expectations`` on ``df``, all in one validation graph. GX orders them
        by metric, not as given: callers find theirs by a key in the expectation's meta."""
        validator = _validator_class()(
            execution_engine=self.datasource.get_execution_engine(),
            interactive_evaluation=True,
            data_context=self.context,
            batches=[self.batch(df)],
        )
        configs = validator.process_expectations_for_validation([e.configuration for e in expectations])
        results = validator.graph_validate(
            configurations=configs, runtime_configuration={"result_format": dict(result_format)}
        )
        return [r.to_json_dict() for r in results]


def run_identifier(run_id: str) -> Any:
    from great_expectations.core.run_identifier import RunIdentifier

    return RunIdentifier(run_name=run_id, run_time=datetime.now(UTC))


def _result(r: dict[str, Any]) -> Any:
    """A GX ``ExpectationValidationResult`` of one of our JSON results."""
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    cfg = r["expectation_config"]
    return ExpectationValidationResult(
        success=r["success"],
        expectation_config=ExpectationConfiguration(
            type=cfg["type"],
            kwargs=cfg.get("kwargs", {}),
            meta=cfg.get("meta") or {},
            description=cfg.get("description"),
        ),
        result=r.get("result") or {},
        exception_info=r.get("exception_info") or {},
        meta=r.get("meta") or {},
    )


def store_suite_result(
    ctx: Any,
    run_id: Any,
    sr: SuiteResult,
    suite: tuple[dict[str, Any], list[Any]],
    results: list[dict[str, Any]],
    reference_time: str,
) -> tuple[dict[str, Any], str]:
    """Store a suite's results (ours, as JSON, in suite order) as one GX validation result, for the Data
    Docs. ``suite`` is the suite's meta and its GX expectations, ``run_id`` a :func:`run_identifier`.
    Returns GX's validation result as JSON and its page, relative to ``<lake>/quality``."""
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    suite_meta, expectations = suite
    stored = ctx.suites.add(gx.ExpectationSuite(name=sr.suite, expectations=expectations, meta=suite_meta))
    vr = ExpectationSuiteValidationResult(
        success=sr.success,
        results=[_result(r) for r in results],
        suite_name=stored.name,
        statistics={
            "evaluated_expectations": sr.evaluated,
            "successful_expectations": sr.successful,
            "unsuccessful_expectations": sr.evaluated - sr.successful,
            "success_percent": 100.0 * sr.successful / sr.evaluated if sr.evaluated else None,
        },
        meta={
            "great_expectations_version": gx.__version__,
            "run_id": run_id,
            "validation_time": run_id.run_time,
            "batch_spec": {"table": sr.location, "files": sr.files, "files_checked": sr.files_checked},
            "active_batch_definition": {
                "datasource_name": "lake",
                "data_connector_name": "duckdb-parquet",
                "data_asset_name": sr.suite,
                "batch_identifiers": {"rows": sr.rows, "batches": sr.batches},
            },
            "tweetlake": {"reference_time": reference_time, "skipped": sr.skipped},
        },
    )
    suite_id = ExpectationSuiteIdentifier(name=stored.name)
    key = ValidationResultIdentifier(
        expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=sr.table
    )
    ctx.validation_results_store.store_validation_results(vr, key, suite_id)
    return vr.to_json_dict(), docs_page(key.to_tuple())


def docs_page(key: tuple[Any, ...]) -> str:
    """Where GX's site builder puts a validation result's page (its key as a tuple), relative to
    ``<lake>/quality``."""
    suite_parts = str(key[0]).split(".")
    rest = [str(p) for p in key[1:]]
    return posixpath.join("docs", "validations", *suite_parts, *rest[:-1], f"{rest[-1]}.html")
