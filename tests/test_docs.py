"""Documentation a BI user relies on: every column of every mart and segment is described (in business
terms, not the column's name again)."""

from __future__ import annotations

import json

from warehouse_helpers import DBT_PROJECT_DIR


def test_every_mart_and_segment_column_has_a_description(tiny_run):
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    published = [n for n in manifest["nodes"].values()
                 if n["resource_type"] == "model" and n["schema"] in ("marts", "segments")]
    assert len(published) >= 15
    missing, echoes = [], []
    for node in published:
        assert node["description"].strip(), node["name"]
        assert node["columns"], f"{node['name']} documents no columns"
        for name, column in node["columns"].items():
            text = (column.get("description") or "").strip()
            if not text:
                missing.append(f"{node['name']}.{name}")
            elif text.lower().replace(" ", "_").strip(".") == name:
                echoes.append(f"{node['name']}.{name}")
    assert not missing, missing
    assert not echoes, echoes
