"""One synthesis of the CDK app, shared by the whole infrastructure suite, and a second
one of the next version of the image, for what an update and its rollback do."""

from pathlib import Path

import pytest
from cdk_synthesis import Synthesized, synthesize

import cdk.app_image


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app as `make synth` builds it; synthesizing it also runs cdk-nag."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def updated_synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app again with another component document: the template of a deploy that builds
    a new image (new component, recipe and image), to compare with ``synthesized``."""
    document = tmp_path_factory.mktemp("component") / "sharer-app.yml"
    original: Path = cdk.app_image.COMPONENT_DOCUMENT
    document.write_text(original.read_text(encoding="utf-8") + "# the next version\n")
    # Patched for this synthesis only: every other test reads the real document.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cdk.app_image, "COMPONENT_DOCUMENT", document)
        return synthesize(tmp_path_factory.mktemp("cdk.out.updated"))
