"""How requests reach the app: nginx in front of gunicorn's stock ``gthread`` worker.

``processes`` runs the two as ``sharer-server``; ``nginx_config`` renders nginx's
configuration from the settings; ``gunicorn_app`` configures gunicorn and loads the app
in each of its processes, behind ``body_drain``; ``runtime_paths`` names the files they
share under ``SHARER_RUNTIME_DIR``.

This package wraps the app (``server.app``) and may import it; the app never imports this
package (tests/unit/test_import_rules.py), so it runs the same under Flask's test client.
"""
