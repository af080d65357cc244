"""The demo storefront at /demo/store: a product page that runs an experiment end to end.

It is a storefront, not part of the marketer UI: public (no login), and it talks to abtest only
through the public JSON API via the same snippet a real shop includes (``static/abtest.js``):
assign a script, report a purchase, post the survey. So it doubles as the snippet's live example
and as the page the end-to-end tests drive as shoppers.

Configuration: the storefront API key comes from app config ``DEMO_API_KEY`` or the environment
variable ``ABTEST_DEMO_API_KEY`` (create one with ``abtest apikey create --scope storefront``);
without it the page explains how to set it. Query parameters: ``experiment`` (default
``urgency-close``), the shopper's attributes ``channel`` (default ``chat``) and ``segment``, and
``unit`` to act as a given shopper instead of the browser's stored unit id.
"""
from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, current_app, render_template, request

from variants import load_catalogue

CONFIG_KEY = "DEMO_API_KEY"
ENV_VARIABLE = "ABTEST_DEMO_API_KEY"
DEFAULT_EXPERIMENT = "urgency-close"
DEFAULT_ATTRIBUTES = {"channel": "chat", "segment": ""}
#: The product on sale; its price is the revenue reported on purchase.
PRODUCT = {"name": "山羊绒围巾 · 燕麦色", "price": 199.0}


def create_demo_blueprint() -> Blueprint:
    """A fresh /demo blueprint (one per app, like the API's)."""
    blueprint = Blueprint("demo", __name__, url_prefix="/demo")
    blueprint.add_url_rule("/store", view_func=store, methods=["GET"])
    return blueprint


def store() -> str:
    """The product page; the browser does the rest through the snippet."""
    api_key = current_app.config.get(CONFIG_KEY) or os.environ.get(ENV_VARIABLE)
    return render_template("demo/store.html", api_key=api_key, settings=_settings(api_key),
                           config_key=CONFIG_KEY, env_variable=ENV_VARIABLE)


def _settings(api_key: str | None) -> dict[str, Any]:
    """What the page script needs, passed as JSON (never interpolated into script code)."""
    catalogue = load_catalogue()
    attributes = {name: request.args.get(name, default) for name, default in
                  DEFAULT_ATTRIBUTES.items()}
    return {
        "endpoint": request.host_url.rstrip("/") + "/api/v1",
        "apiKey": api_key,
        "experiment": request.args.get("experiment", DEFAULT_EXPERIMENT),
        "unitId": request.args.get("unit") or None,
        "attributes": {name: value for name, value in attributes.items() if value},
        "product": PRODUCT,
        "unitNames": {key: unit.name for key, unit in catalogue.items()},
        # Variants that say nothing (e.g. "off"): the survey cannot ask about a line not said.
        "silentVariants": {key: [v.key for v in unit.variants.values() if not v.text.strip()]
                           for key, unit in catalogue.items()},
    }
