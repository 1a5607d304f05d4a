"""Step 7 (Record): close the run, write the rotation log, clear the working copies."""


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("hotcold_vacuum")
    from hotcold.pipeline.record import record_run

    return record_run(session)
