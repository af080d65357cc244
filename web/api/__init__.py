"""The JSON API under /api/v1: one blueprint per resource, nested in ``api``."""
from __future__ import annotations

from flask import Blueprint

from web.api import assign, events, experiments, feedback, meta, results, units


def create_api_blueprint() -> Blueprint:
    """A fresh /api/v1 blueprint holding every resource blueprint."""
    api = Blueprint("api", __name__, url_prefix="/api/v1")
    for module in (meta, assign, events, feedback, experiments, results, units):
        api.register_blueprint(module.blueprint)
    return api
