"""Fixtures for the activation tests: a temp serving/warehouse pair and the local fake ESP servers."""

from __future__ import annotations

import pytest
from act_helpers import Warehouse
from fake_klaviyo import FakeKlaviyo
from fake_mailchimp import FakeMailchimp


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    """A published serving.duckdb (segment, customer_360, erasures) and a working warehouse."""
    return Warehouse(tmp_path)


@pytest.fixture
def klaviyo():
    """A local Klaviyo; fails the test if any request or response broke the spec."""
    server = FakeKlaviyo(time_scale=1000)
    yield server
    server.close()
    assert server.violations == []


@pytest.fixture
def mailchimp():
    """A local Mailchimp; fails the test if any request or response broke the spec."""
    server = FakeMailchimp()
    yield server
    server.close()
    assert server.violations == []
