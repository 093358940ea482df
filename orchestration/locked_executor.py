"""The executor of every c360 job: Dagster's in-process executor, inside the C360_HOME lock.

The lock is taken where the run executes, not where it is launched, so a run started by `c360 run`, the
daily schedule, the landing sensor or the UI holds it alike for all of its steps. Before waiting, the run
records its process (`c360/pid`) so crash recovery can tell a live run from one whose process was killed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from dagster import ExecutorDefinition, MetadataValue, executor
from dagster._core.definitions.executor_definition import IN_PROC_CONFIG, _core_in_process_executor_creation
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.executor.in_process import InProcessExecutor

from orchestration.home_lock import HomeBusy, home_lock
from orchestration.recovery import PID_TAG, process_identity


class HomeLockedExecutor(InProcessExecutor):
    """Runs every step in this process while holding the lock of `home` (waiting for it if need be)."""

    def __init__(self, home: Path, inner: InProcessExecutor):
        super().__init__(inner.retries, inner.step_dependency_config, inner.marker_to_close)
        self.home = Path(home)

    def execute(self, plan_context, execution_plan) -> Iterator[DagsterEvent]:
        """Hold the lock around the in-process execution; tell the run's log whom it waited for."""
        run = plan_context.dagster_run
        plan_context.instance.add_run_tags(run.run_id, {PID_TAG: process_identity()})
        command = f"Dagster run {run.run_id} of {run.job_name}"
        with ExitStack() as stack:
            try:
                stack.enter_context(home_lock(self.home, command=command, timeout=0))
            except HomeBusy as busy:
                who = {"holder_pid": MetadataValue.int(busy.holder.pid)} if busy.holder else {}
                yield DagsterEvent.engine_event(plan_context, f"{busy}; waiting for it to finish",
                                                event_specific_data=EngineEventData(metadata=who))
                stack.enter_context(home_lock(self.home, command=command, timeout=None))
            yield from super().execute(plan_context, execution_plan)


def locked_in_process_executor(home: Path) -> ExecutorDefinition:
    """An executor definition (configured like `in_process`) whose runs hold the lock of `home`."""

    @executor(name="in_process_home_locked", config_schema=IN_PROC_CONFIG)
    def _locked(init_context) -> HomeLockedExecutor:
        return HomeLockedExecutor(home, _core_in_process_executor_creation(init_context.executor_config))

    return _locked

