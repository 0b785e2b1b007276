"""What the server and the worker share: settings, ids, the job message, status records,
the image formats we accept, and the Storage and Queue ports with their adapters."""
