"""The people's side of the service: the upload page, share pages and their assets."""

from server.pages.routes import pages_blueprint

__all__ = ["pages_blueprint"]
