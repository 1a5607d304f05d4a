"""Step 5b (Reconcile): withdraw from the lake the rows someone deleted from the hot store
while this rotation ran (found by the delete step), so a deleted row does not live on in cold."""


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("hotcold_delete")
    from hotcold.pipeline.publish import withdraw_vanished

    return withdraw_vanished(session)
