"""The Flask server: upload validation, routes and the application factory."""
