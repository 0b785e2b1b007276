"""Hypothesis profiles for the fuzz targets: ``make test`` runs Hypothesis's default
bounded count; ``pytest tests/fuzz --hypothesis-profile=fuzz`` runs many more."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fuzz",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
