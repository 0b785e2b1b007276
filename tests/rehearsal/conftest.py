"""One rehearsal stage for the module: the template synthesized, everything started."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.rehearsal.stage import Stage, running_stage
from support.rehearsal.template import StackTemplate, synthesize

# A stage with no worker at rest, so the fleet's scale-out from zero is exercised.
STAGE_CONTEXT = {"fleetMin": 0}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> StackTemplate:
    """The CDK app's template, synthesized as `make synth` does."""
    return synthesize(tmp_path_factory.mktemp("cdk-out"), STAGE_CONTEXT)


@pytest.fixture(scope="module")
def stage(template: StackTemplate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    """Balancer, CDN, moto with IAM, and the server group's minimum of servers."""
    workdir: Path = tmp_path_factory.mktemp("rehearsal")
    with running_stage(template, workdir) as running:
        yield running
