pytest_plugins = ["tests.fixtures_airflow", "tests.fixtures_lake"]
