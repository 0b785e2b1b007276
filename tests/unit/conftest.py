"""Fixtures for the Flask app on in-memory fakes (flaskr-style ``app`` and ``client``)."""

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.app import create_app
from sharer.settings import ServerSettings
from support.fakes import FakeEdgeCache, FakeQueue, FakeStorage


@pytest.fixture
def settings() -> ServerSettings:
    return ServerSettings.from_env({"SHARER_DATA_DIR": "/nonexistent/unused"})


@pytest.fixture
def storage() -> FakeStorage:
    return FakeStorage()


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()


@pytest.fixture
def edge_cache() -> FakeEdgeCache:
    return FakeEdgeCache()


@pytest.fixture
def app(
    settings: ServerSettings, storage: FakeStorage, queue: FakeQueue, edge_cache: FakeEdgeCache
) -> Flask:
    return create_app(settings, storage=storage, queue=queue, edge_cache=edge_cache)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
