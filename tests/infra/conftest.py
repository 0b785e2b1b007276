"""One synthesis of the CDK app, shared by the whole infrastructure suite."""

import pytest
from cdk_synthesis import Synthesized, synthesize


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app as `make synth` builds it; synthesizing it also runs cdk-nag."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))
