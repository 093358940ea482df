"""Transform stage: the dbt project (staging → intermediate → marts → segments) as Dagster assets."""
