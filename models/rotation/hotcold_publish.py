"""Step 4 (Publish): move verified staged day files into the lake's layout."""


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("hotcold_export")
    from hotcold.pipeline.publish import publish_run

    return publish_run(session)
