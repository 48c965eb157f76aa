"""Cromwell's REST API over the Ironside engine: ``ironside server``.

``ironside.server.app.create_app`` builds the FastAPI application from a
``ServerSettings`` and an ``EnginePort`` (the engine as the server sees it);
``ironside.server.cli`` adds the ``server`` subcommand.
"""
