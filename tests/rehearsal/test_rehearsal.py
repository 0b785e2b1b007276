"""The bounded subset of `make rehearse` that `make test` runs (scenarios 1, 5, 7 and
one server replaced under load); bench/rehearse.py runs all eight."""

import pytest

from support.rehearsal import scenarios
from support.rehearsal.stage import Stage

pytestmark = pytest.mark.rehearsal


def test_uploads_through_the_cdn_have_their_thumbnails_there(stage: Stage) -> None:
    proof = scenarios.uploads_through_the_cdn(stage, total=24, concurrency=4)
    assert proof.failures == []
    assert proof.figures["thumbnails fetched"] == 3 * 24


def test_a_thumbnail_asked_for_early_is_not_cached(stage: Stage) -> None:
    proof = scenarios.thumbnail_not_cached_before_ready(stage)
    assert proof.failures == []


def test_each_role_may_do_what_its_code_does_and_nothing_forbidden(stage: Stage) -> None:
    proof = scenarios.iam_as_the_template_grants(stage)
    assert proof.failures == []
    assert proof.figures["forbidden calls refused"] == "6/6"


def test_a_server_replaced_under_load_fails_no_upload(stage: Stage) -> None:
    proof = scenarios.rolling_replacement(stage, replace=1)
    assert proof.failures == []
    assert proof.figures["servers replaced"] == 1
    assert proof.figures["accepted"] == proof.figures["uploads"] != 0
