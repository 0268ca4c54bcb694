"""The four-host topology for the deploy tests, built once per module and always torn down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy import hosts
from tests.deploy.cluster_file import demo_missing, ensure_demo


@pytest.fixture(scope="module")
def four_hosts(pytestconfig: pytest.Config) -> Iterator[hosts.FourHosts]:
    reason = hosts.requirements_missing()
    if reason:
        pytest.skip(reason)
    if demo_missing():
        # A fresh machine: build the engine venv and demo once (cached under MPR_HOME), as the engine tests do.
        capture = pytestconfig.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            ensure_demo()
    try:
        yield hosts.build()
    finally:
        hosts.tear_down()
