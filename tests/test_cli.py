"""The ``tweetlake`` command line: help, flag errors, the exit codes and messages, a light start-up.

Commands run in-process through :func:`pipeline.cli.main` (the console script's entry point); the steps they
call are replaced where a test needs a given failure, so these tests stay quick.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from foundation.settings import ConfigError
from pipeline import cli, steps

COMMANDS = ("plan", "counts", "backfill", "ingest", "build", "validate", "publish")
COMMANDS += (
    "history",
    "rollback",
    "maintain",
    "sql",
    "refresh",
    "export",
    "rehydrate",
    "compliance",
    "report",
)
HEAVY = ("pandas", "dbt", "great_expectations", "duckdb", "deltalake")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_every_command_in_pipeline_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    listed = [line.split()[0] for line in out.split("Commands:")[1].strip().splitlines()[: len(COMMANDS)]]
    assert listed == list(COMMANDS)
    assert "pull tweets into the bronze layer" in out and "-v, --verbose" in out
    assert "TWITTER_BEARER_TOKEN" in out  # the epilog: where settings come from


@pytest.mark.parametrize(
    "command,phrases",
    [
        (
            "plan",
            ["GET /2/tweets/counts/recent", "TWEETLAKE_PRICE_PER_POST", "--start-time", "writes nothing"],
        ),
        ("ingest", ["<lake>/bronze", "--source", "--end-date", "--start-time", "Source:"]),
        ("build", ["TWEETLAKE_BUILD_BATCH", "--select", "--full-refresh"]),
        ("validate", ["Great Expectations", "--layer"]),
        ("publish", ["Parquet and CSV", "Delta"]),
        ("history", ["newest first", "gate run"]),
        ("rollback", ["--to", "run id", "as new versions"]),
        ("maintain", ["--retention-hours", "never broken"]),
        ("sql", ["silver.<table>", "--as-of", "--format", "--tables"]),
        ("refresh", ["stops at the first failure", "--full-refresh", "--tweets", "Source:"]),
        ("report", ["--serve", "--port", "default 8000"]),
    ],
)
def test_each_command_has_its_help(
    capsys: pytest.CaptureFixture[str], command: str, phrases: list[str]
) -> None:
    code, out, err = run(capsys, command, "--help")
    assert code == 0, err
    assert out.startswith(f"Usage: tweetlake {command}")
    for phrase in ["--lake", *phrases]:
        assert phrase in out, phrase


@pytest.mark.parametrize(
    "argv,complaint",
    [
        (["ingest", "--end-date", "2026-13-01"], "'2026-13-01' is not a date (YYYY-MM-DD)"),
        (["ingest", "--source", "ftp"], "'ftp' is not one of"),
        (["ingest", "--tweets", "many"], "'many' is not a valid integer"),
        (["validate", "--layer", "bronze"], "'bronze' is not one of"),
        (["report", "--port", "http"], "'http' is not a valid integer"),
        (["build", "--no-such-flag"], "No such option '--no-such-flag'"),
        (["fly"], "No such command 'fly'"),
        ([], "Usage: tweetlake"),  # no command: the help, and the exit code of a usage error
    ],
)
def test_a_bad_flag_or_value_exits_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == cli.EXIT_CONFIG
    assert complaint in err + out
    assert "Traceback" not in err


def _raise(exc: BaseException):  # noqa: ANN202 - a stand-in for any step
    def step(*args: object, **kwargs: object) -> None:
        raise exc

    return step


def _gate_failed() -> BaseException:
    from expectations.validate import QualityGateFailed

    report = SimpleNamespace(failures=[], results_path="quality/runs/x.json", index_path="quality/index.html")
    return QualityGateFailed(report)  # type: ignore[arg-type]  # the attributes the message reads


@pytest.mark.parametrize(
    "error,code,message",
    [
        (
            lambda: ConfigError("TWEETLAKE_LAKE is odd"),
            2,
            "tweetlake: configuration error: TWEETLAKE_LAKE is odd",
        ),
        (_gate_failed, 3, "tweetlake: quality gate failed on the lake, nothing published"),
        (lambda: __import__("dbt_runtime.runner").runner.BuildError("dbt broke"), 1, "tweetlake: dbt broke"),
        (lambda: __import__("foundation.workdir").workdir.LakeBusy("lake busy"), 1, "tweetlake: lake busy"),
        (lambda: __import__("foundation.lake").lake.LakeError("no bucket"), 1, "tweetlake: no bucket"),
        (lambda: FileNotFoundError("no such file: x"), 1, "tweetlake: no such file: x"),
        (lambda: KeyboardInterrupt(), 130, "tweetlake: interrupted; rerun the same command"),
        (lambda: ZeroDivisionError("oops"), 1, "tweetlake: ZeroDivisionError: oops\n(rerun with -v"),
    ],
)
def test_failures_map_to_exit_codes_and_messages(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error, code, message
) -> None:
    monkeypatch.setattr(steps, "run_build", _raise(error()))
    got, out, err = run(capsys, "build", "--lake", str(tmp_path))
    assert (got, out) == (code, "")
    assert err.startswith(message), err
    assert "Traceback" not in err


def test_verbose_lets_an_unexpected_error_through_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(steps, "run_publish", _raise(ZeroDivisionError("oops")))
    with pytest.raises(ZeroDivisionError, match="oops"):
        cli.main(["-v", "publish", "--lake", str(tmp_path)])
    from foundation.workdir import LakeBusy

    monkeypatch.setattr(steps, "run_publish", _raise(LakeBusy("another run holds the lake")))
    assert cli.main(["-v", "publish", "--lake", str(tmp_path)]) == cli.EXIT_FAILED  # known: a message


def test_flags_reach_the_steps(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, object] = {}

    def fake_refresh(settings, **kwargs):  # noqa: ANN001, ANN202
        calls.update(kwargs, lake=settings.lake)
        validation = SimpleNamespace(index_path="/l/quality/index.html")
        publish = SimpleNamespace(report="/l/report/index.html")
        return SimpleNamespace(tables={"silver/tweets": 1500}, validation=validation, publish=publish)

    monkeypatch.setattr(steps, "refresh", fake_refresh)
    argv = ["refresh", "--lake", "/l", "--tweets", "10", "--end-date", "2026-11-20", "--full-refresh"]
    argv += ["--drill-volume-drop", "0.8"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert calls["source"] == "sample" and calls["full_refresh"] is True and calls["lake"] == "/l"
    from datetime import date

    assert calls["source_options"] == {
        "tweets": 10,
        "days": None,
        "end_date": date(2026, 11, 20),
        "seed": None,
        "drill_drop": 0.8,
    }
    assert "silver/tweets       1,500 rows" in out and "quality report: /l/quality/index.html" in out
    assert "lake report:    /l/report/index.html" in out


def test_ingest_and_report_for_real(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    code, out, err = run(capsys, "ingest", "--lake", lake, "--tweets", "40", "--days", "1", "--seed", "7")
    assert code == 0, err
    assert out.startswith("ingested 40 tweets")
    code, _, err = run(capsys, "report", "--lake", lake)
    assert code == cli.EXIT_FAILED and "no report yet" in err
    code, _, err = run(
        capsys, "ingest", "--lake", lake, "--source", "replay", "--path", str(tmp_path / "nope")
    )
    assert code == cli.EXIT_FAILED and "does not exist" in err


def test_start_up_imports_nothing_heavy(tmp_path: Path) -> None:
    """Help and a whole sample ingest load none of pandas, dbt, Great Expectations, DuckDB."""
    code = (
        "import sys; from pipeline.cli import main; "
        "codes = [main(['--help']), main(['ingest', '--help']), "
        f"main(['ingest', '--lake', sys.argv[1], '--tweets', '20', '--days', '1'])]; "
        f"print(codes, [m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "lake")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[0, 0, 0] []"
