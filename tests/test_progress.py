"""What `c360 run` and `c360 generate` print while they work: dbt's node progress read from dbt's own events, the
run's event log read with a cursor (each event once), the terminal lines (a clock is injected: no waiting, no
timing threshold), and the generator's progress lines."""

from __future__ import annotations

import io
import json
import re

import pytest
from dagster import DagsterInstance, Failure, job, op

from orchestration.progress import DbtProgress, ProgressPrinter, RunEvents, step_progress
from orchestration.sample_data.progress import GenerationProgress, ProgressLines, render, share
from orchestration.transform.node_progress import NodeProgress


def dbt_json(event, level: str = "info") -> dict:
    """A dbt event as dagster-dbt receives it: serialised by dbt's own JSON log formatter, read back."""
    from dbt_common.events.base_types import EventLevel, msg_from_base_event
    from dbt_common.events.functions import msg_to_json

    return json.loads(msg_to_json(msg_from_base_event(event, level=EventLevel(level))))


def node(unique_id: str, status: str, schema: str = "marts") -> dict:
    """dbt's node_info of a node."""
    resource_type, _, name = unique_id.split(".")[:3]
    return {"unique_id": unique_id, "node_name": name, "resource_type": resource_type, "node_status": status,
            "materialized": "table", "node_relation": {"database": "warehouse", "schema": schema, "alias": name}}


def dbt_build_events() -> list[dict]:
    """The events of a `dbt build` of four nodes: a hook, a model, a failing test, a skipped model, a model."""
    from dbt.events.types import (
        LogHookEndLine,
        LogHookStartLine,
        LogModelResult,
        LogStartLine,
        LogTestResult,
        SkippingDetails,
    )

    hook = node("operation.customer360.customer360-on-run-start-0", "started")
    a, b, c = "model.customer360.fct_orders", "model.customer360.customer_360", "model.customer360.retention_metrics"
    test = "test.customer360.not_null_fct_orders_order_id.1a2b3c"
    return [
        dbt_json(LogHookStartLine(statement="on-run-start", index=1, total=1, node_info=hook)),
        dbt_json(LogHookEndLine(statement="on-run-start", status="success", index=1, total=1,
                                execution_time=0.1, node_info={**hook, "node_status": "success"})),
        dbt_json(LogStartLine(description="sql table model marts.fct_orders", index=1, total=4,
                              node_info=node(a, "started"))),
        dbt_json(LogModelResult(description="sql table model marts.fct_orders", status="OK", index=1, total=4,
                                execution_time=1.5, node_info=node(a, "success"))),
        dbt_json(LogStartLine(description="test not_null_fct_orders_order_id", index=2, total=4,
                              node_info=node(test, "started"))),
        dbt_json(LogTestResult(name="not_null_fct_orders_order_id", status="fail", index=2, num_models=4,
                               execution_time=0.2, num_failures=3, node_info=node(test, "fail")), "error"),
        dbt_json(SkippingDetails(resource_type="model", schema="marts", node_name="customer_360", index=3, total=4,
                                 node_info=node(b, "skipped"))),
        dbt_json(LogStartLine(description="sql table model marts.retention_metrics", index=4, total=4,
                              node_info=node(c, "started"))),
        dbt_json(LogModelResult(description="sql table model marts.retention_metrics", status="OK", index=4,
                                total=4, execution_time=0.5, node_info=node(c, "success"))),
    ]


def test_node_progress_follows_dbt_events():
    progress = NodeProgress()
    reported = [p.message for e in dbt_build_events() if (p := progress.observe(e)) is not None]
    # One line per node started, hooks left out, as dbt counts: done of the selected nodes, and the node running.
    assert reported == [
        "dbt 0/4 done, running table model marts.fct_orders",
        "dbt 1/4 done, running test not_null_fct_orders_order_id",
        "dbt 3/4 done, running table model marts.retention_metrics",
    ]
    assert progress.final().message == "dbt 4/4 done: 1 failed, 1 skipped"
    assert progress.running == {}


def test_progress_messages_read_back():
    for progress in (DbtProgress(0, 4, "table model marts.fct_orders"), DbtProgress(4, 4),
                     DbtProgress(4, 4, problems="1 failed, 1 skipped"),
                     DbtProgress(12, 340, "incremental model staging.stg_web__events (daily)")):
        assert DbtProgress.parse(progress.message) == progress
    assert DbtProgress.parse("dbt build finished") is None
    assert DbtProgress.parse(None) is None


@op
def load_step(context):
    """A step that logs nothing special."""
    context.log.info("loading")


@op
def dbt_step(context, _after):
    """A step that reports dbt's progress the way the dbt assets do (orchestration/transform/assets.py)."""
    progress = NodeProgress()
    for event in dbt_build_events():
        started = progress.observe(event)
        if started is not None:
            context.log.info(started.message)
    context.log.info(progress.final().message)


@op
def failing_step(context, _after):
    """A step that fails."""
    raise Failure("boom")


@job
def progress_job():
    dbt_step(load_step())


@job
def failing_job():
    failing_step(load_step())


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
        yield instance


def test_the_cursor_reads_each_event_once(instance):
    run_id = progress_job.execute_in_process(instance=instance).run_id
    stored = [r.storage_id for r in instance.get_records_for_run(run_id).records]
    fetched: list[int] = []
    real = instance.get_records_for_run

    def spy(*args, **kwargs):
        page = real(*args, **kwargs)
        fetched.extend(r.storage_id for r in page.records)
        return page

    instance.get_records_for_run = spy
    events = RunEvents(instance, run_id, batch=7)  # several pages per call
    first = events.new_records()
    assert [r.storage_id for r in first] == stored
    assert events.new_records() == []
    run = instance.get_run_by_id(run_id)
    instance.report_engine_event("one more event", run)
    assert [r.event_log_entry.dagster_event.message for r in events.new_records()] == ["one more event"]
    assert events.new_records() == []
    # Every event came out of the storage exactly once over all the polls.
    assert len(fetched) == len(set(fetched)) == len(stored) + 1


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_printer_lines_with_dbt_progress_and_heartbeat(instance):
    run_id = progress_job.execute_in_process(instance=instance).run_id
    records = instance.get_records_for_run(run_id).records
    first_dbt = next(i for i, r in enumerate(records) if (r.event_log_entry.user_message or "").startswith("dbt "))
    clock, out = Clock(), io.StringIO()
    printer = ProgressPrinter(out, clock=clock, heartbeat=20, dbt_every=10)

    printer.tick()  # nothing yet, and no time passed
    assert out.getvalue() == ""
    clock.now += 21
    printer.tick()
    assert out.getvalue().splitlines()[-1].endswith("still starting the run")
    printer.feed(records[: first_dbt + 1])  # the load step done, the dbt step started a node
    clock.now += 1
    printer.feed(records[first_dbt + 1: first_dbt + 2])  # the next node: within dbt_every, not printed
    clock.now += 25
    printer.tick()  # silence: what runs, for how long, with dbt's node and its time
    clock.now += 1
    printer.feed(records[first_dbt + 2:])
    lines = [re.sub(r"^  \[ *[\d.]+ s\] ", "", line) for line in out.getvalue().splitlines()]
    assert lines == [
        "still starting the run",
        "load_step done",
        "dbt_step: dbt 0/4 done, running table model marts.fct_orders",
        "still running: dbt_step for 26 s; dbt 1/4 done, running test not_null_fct_orders_order_id for 25 s",
        "dbt_step done (dbt: 4/4 nodes, 1 failed, 1 skipped)",
    ]


def test_run_progress_on_the_terminal(instance):
    out = io.StringIO()
    with step_progress(instance, stream=out, every=0.05) as tags:
        assert failing_job.execute_in_process(instance=instance, tags=tags, raise_on_error=False).success is False
    with step_progress(instance, stream=out, every=0.05) as tags:
        assert progress_job.execute_in_process(instance=instance, tags=tags).success
    lines = [re.sub(r"^  \[ *[\d.]+ s\] ", "", line) for line in out.getvalue().splitlines()]
    # Each run's own steps, once each, whenever the polls fell.
    assert [line for line in lines if not line.startswith(("still", "dbt_step: dbt"))] == [
        "load_step done", "failing_step FAILED",
        "load_step done", "dbt_step done (dbt: 4/4 nodes, 1 failed, 1 skipped)"]


def test_generation_progress_lines():
    clock, out = Clock(), io.StringIO()
    lines = ProgressLines(out, every=10, heartbeat=20, clock=clock)
    lines(GenerationProgress("simulating the world"))
    clock.now += 25
    lines.tick()  # a long SQL stage: said again
    lines(GenerationProgress("building the records"))
    for day in range(1, 11):  # one line at the stage change, then at most one per 10 s
        clock.now += 3
        lines(GenerationProgress("writing", "web__events", 2, 4, day, 10, day * 150_000_000))
    text = [re.sub(r"^  \[ *[\d.]+ s\] ", "", line) for line in out.getvalue().splitlines()]
    assert text == [
        "simulating the world",
        "simulating the world (still working)",
        "building the records",
        render(GenerationProgress("writing", "web__events", 2, 4, 1, 10, 150_000_000)),
        render(GenerationProgress("writing", "web__events", 2, 4, 5, 10, 750_000_000)),
        render(GenerationProgress("writing", "web__events", 2, 4, 9, 10, 1_350_000_000)),
    ]
    assert text[-1] == "[###########.............]  48% writing web/events (2/4): day 9/10, 1.4 GB written"
    assert share(GenerationProgress("writing", "privacy__deletion_requests", 4, 4, 10, 10)) == 1.0


def test_generate_reports_each_stage_and_every_file(tmp_path):
    from orchestration.sample_data import generate

    seen: list[GenerationProgress] = []
    summary = generate(tmp_path / "landing", tier="tiny", days=3, sources={"shop", "web"}, progress=seen.append)
    assert [p.stage for p in seen[:2]] == ["simulating the world", "building the records"]
    starts = [p for p in seen if p.stage == "writing" and p.day == 0]  # each entity announced before its files
    assert [p.entity for p in starts] == list(summary.entities) and "rendering its first days" in render(starts[0])
    writing = [p for p in seen if p.stage == "writing" and p.day > 0]
    assert {p.entity for p in writing} == set(summary.entities)
    # One call per file written, days counted from the first export date, bytes growing to what was written
    # (the re-delivered and empty copies are added after the last call).
    days_files = sum(len(list((tmp_path / "landing").glob(f"{e.replace('__', '/')}/????-??-??.*")))
                     for e in summary.entities)
    assert len(writing) == days_files
    assert all(1 <= p.day <= p.days == 3 for p in writing)
    assert [p.bytes_written for p in writing] == sorted(p.bytes_written for p in writing)
    last = writing[-1]
    assert (last.entity_number, last.entities) == (len(summary.entities), len(summary.entities))
    assert share(last) == 1.0 or last.day < 3
