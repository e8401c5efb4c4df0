"""VADER compound scores of the texts never scored before (int_texts_to_score), on every core.

A Python model so each distinct text is scored once, in parallel worker processes, streamed: texts are read
in Arrow batches from a second cursor and the scores go back to DuckDB as a record batch reader, so memory
stays flat whatever the number of texts (dbt_runtime.sentiment.score_arrow_batches).
"""

import pyarrow as pa

from dbt_runtime.sentiment import score_arrow_batches

SCHEMA = pa.schema([("text_hash", pa.uint64()), ("sentiment_score", pa.float64())])


def model(dbt, session):
    dbt.config(materialized="table")
    query = dbt.ref("int_texts_to_score").select("text_hash", "text_clean").sql_query()
    reader = session.cursor().sql(query).to_arrow_reader(100_000)
    return pa.RecordBatchReader.from_batches(SCHEMA, score_arrow_batches(reader))
