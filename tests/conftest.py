pytest_plugins = ["tests.fixtures_airflow", "tests.fixtures_lake"]

# The ingestion tests: S3 buckets on a moto server, and a fake Twitter API v2 (tests/fake_twitter/).
pytest_plugins += ["tests.fixtures_s3", "tests.fake_twitter.fixtures"]

# `make test` runs files on two workers (`--dist loadfile --no-loadscope-reorder`): each worker takes the
# next file when it is free, so the longest files go first (measured with --durations; each one to three
# minutes, most of it S3 builds on moto and Airflow's scheduler). Without this order xdist sorts files by
# their number of tests, which left the slowest files for the end and one worker idle for minutes.
LONGEST_FIRST = (
    "tests/faults/test_airflow_faults.py",
    "tests/faults/test_s3_faults.py",
    "tests/test_airflow_runs.py",
    "tests/test_dbt_s3.py",
    "tests/test_airflow_scheduler.py",
    "tests/test_slice.py",
    "tests/test_dbt_models.py",
    "tests/test_quality_gate.py",
    "tests/faults/test_reingest.py",
    "tests/test_gold_versions.py",
    "tests/test_benchmarks.py",
    "tests/test_lease.py",
    "tests/faults/test_damaged_files.py",
    "tests/faults/test_process_kills.py",
)


def pytest_collection_modifyitems(items: list) -> None:
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    # stable: the tests of a file keep their order, the other files theirs
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
