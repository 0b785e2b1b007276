"""CloudFront path patterns as the rehearsal's CDN matches them (no processes needed)."""

import re

import pytest

from support.rehearsal.edge import path_regex


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("images/*/*", "/images/abc/small.jpg", True),
        ("images/*/*", "/images/abc/small.jpg?v=1", True),
        ("images/*/*", "/images/abc", False),
        ("images/*/*", "/static/images/abc/x", False),
        ("/static/*", "/static/app.css", True),
        ("i/*", "/images/abc/x", False),
        ("i/?", "/i/a", True),
        ("i/?", "/i/ab", False),
        ("a.b/*", "/aXb/c", False),
    ],
)
def test_a_path_pattern_matches_as_cloudfront_documents(
    pattern: str, url: str, matches: bool
) -> None:
    # docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/
    # DownloadDistValuesCacheBehavior.html#DownloadDistValuesPathPattern
    assert (re.match(path_regex(pattern), url) is not None) is matches
