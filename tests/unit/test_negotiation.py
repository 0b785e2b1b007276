"""Accept negotiation for application/json (RFC 9110 rules, q=0 honoured)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.negotiation import admits_json


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "",
        "   ",
        "*/*",
        "application/json",
        "application/*",
        "Application/JSON",
        "text/html, application/json;q=0.1",
        "text/html;q=0.9, */*;q=0.1",
        "application/json; charset=utf-8",
        "text/html, */*",
        "application/json;q=1.0",
    ],
)
def test_admits_json(accept: str | None) -> None:
    assert admits_json(accept)


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "image/png, text/plain",
        "application/xml",
        "application/json;q=0",
        "application/json;q=0.000",
        "*/*;q=0",
        "application/*;q=0",
        # The most specific range decides: JSON explicitly refused despite */*.
        "*/*, application/json;q=0",
        "application/*;q=1, application/json;q=0",
        "application/json;q=abc",
        "application/json;q=7",
        "garbage",
    ],
)
def test_refuses_json(accept: str) -> None:
    assert not admits_json(accept)


@given(st.text(max_size=200))
def test_never_raises(accept: str) -> None:
    assert admits_json(accept) in (True, False)


@given(
    st.lists(st.sampled_from(["text/html", "image/*", "text/*;q=0.5"]), max_size=5),
    st.sampled_from(["application/json", "application/*", "*/*"]),
    st.integers(min_value=0, max_value=1000),
)
def test_a_matching_range_decides_by_its_weight(
    others: list[str], json_range: str, weight: int
) -> None:
    header = ", ".join([*others, f"{json_range};q={weight / 1000}"])
    assert admits_json(header) is (weight > 0)
