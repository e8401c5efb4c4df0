"""Airflow glue for tweetlake: settings from connections, failure alerts. The DAG files stay thin."""
