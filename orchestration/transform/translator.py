"""How dbt nodes become Dagster assets: sources are the raw ingestion assets, models keyed by schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetKey, AssetSpec
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject


class C360DbtTranslator(DagsterDbtTranslator):
    """Sources in the raw schema map onto `raw/<source>__<entity>` (one lineage graph from landing file to
    mart); sources the pipeline writes itself (segment history, predictions) onto the Python assets that
    write them, named in their YAML `meta.dagster.asset_key`; models are keyed `<schema>/<model>` and
    grouped by layer."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetSpec:
        """The default spec with our keys and groups."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            if ((props.get("meta") or {}).get("dagster") or {}).get("asset_key"):
                return spec  # declared in the source's YAML: a table a Python asset of the pipeline writes
            return spec.replace_attributes(key=AssetKey(["raw", props["identifier"]]))
        if props["resource_type"] in ("model", "seed", "snapshot"):
            layer = props.get("fqn", [None, None])[1] if len(props.get("fqn", [])) > 2 else None
            return spec.replace_attributes(
                key=AssetKey([props["schema"], props["name"]]),
                group_name=layer or props["schema"],
            )
        return spec
