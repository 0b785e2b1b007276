"""The suite's Hypothesis profile: no per-example deadline.

A deadline is a timing assertion, and this suite runs on shared, noisy machines where
one example can take several times its usual time; speed belongs in the benchmarks
(``make bench``). A profile named on the command line (``--hypothesis-profile=fuzz``)
is left as given.
"""

import pytest
from hypothesis import settings

settings.register_profile("suite", deadline=None)


def pytest_configure(config: pytest.Config) -> None:
    """Load the suite's profile unless the command line names another."""
    if not config.getoption("hypothesis_profile", default=None):
        settings.load_profile("suite")
