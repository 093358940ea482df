"""Documentation a BI user relies on: every column of every mart and segment is described (in business
terms, not the column's name again)."""

from __future__ import annotations

import json
import shutil

from warehouse_helpers import DBT_PROJECT_DIR

from orchestration.report.dbt_docs import project_fingerprint


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


def test_the_docs_fingerprint_changes_with_the_project_only(tmp_path):
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    first = project_fingerprint(project, engine="dev")
    # What dbt writes into the project folder is not the project.
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")
    (project / "logs").mkdir()
    (project / "logs" / "dbt.log").write_text("a run")
    (project / ".user.yml").write_text("id: x")
    assert project_fingerprint(project, engine="dev") == first
    assert project_fingerprint(project, engine="spark") != first
    model = next((project / "models").rglob("*.sql"))
    model.write_text(model.read_text() + "\n-- edited\n")
    assert project_fingerprint(project, engine="dev") != first
