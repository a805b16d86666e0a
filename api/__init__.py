"""The REST edge and the web composition root: settings, auth, routes and the create_app factory."""

__all__: list[str] = []
