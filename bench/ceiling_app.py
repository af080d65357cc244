"""The HTTP bench's ceiling: a bare Flask app answering constant JSON.

Served by the same gunicorn settings as the real app, it measures what the server, Flask and
the load generator cost on their own; the bench reports the API's throughput as a share of it.
"""
from __future__ import annotations

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

app = Flask(__name__)


@app.route("/ceiling", methods=["GET", "POST"])
def ceiling() -> ResponseReturnValue:
    """Constant JSON of about the size of an assignment answer; the body is not read."""
    return jsonify(experiment="ceiling", unit_id="u", in_experiment=True, arm="a=on",
                   variants={"a": "on"}, text="constant")


@app.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Readiness probe for the bench's server start."""
    return jsonify(status="ok")
