"""Step 1b (Stage, PostgreSQL): stream the aged rows into one Parquet file per day."""


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("hotcold_stage")
    from hotcold.pipeline.stage_days import stage_run

    return stage_run(session)
