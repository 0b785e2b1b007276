"""The measured files the fleet model's tests give it, as any caller does: the package
knows no path under ``bench/results/``."""

from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


@pytest.fixture
def measured_calibration() -> Path:
    """Service times measured on the real worker (``make simulate`` writes them)."""
    return RESULTS / "scaling_calibration.json"


@pytest.fixture
def measured_request_counts() -> Path:
    """S3 and SQS requests per step (``bench/request_counts.py`` writes them)."""
    return RESULTS / "request_counts.json"
