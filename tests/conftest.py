pytest_plugins = ["tests.fixtures_airflow", "tests.fixtures_lake"]

# The ingestion tests: S3 buckets on a moto server, and a fake Twitter API v2 (tests/fake_twitter/).
pytest_plugins += ["tests.fixtures_s3", "tests.fake_twitter.fixtures"]
