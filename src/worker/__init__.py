"""The worker: the consume loop and the thumbnailer."""
