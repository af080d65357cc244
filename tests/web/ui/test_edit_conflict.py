"""Two editors at once: the edit form carries the version it was filled from; a save based on a
version someone else has changed since is refused (409) with the editor's input kept and the
other person's changes named, and saving again is then a deliberate overwrite. A Thompson
reweight in between is not a conflict (it changes neither the definition nor the status)."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.web.test_api_allocation import BASE, _seed, _thompson
from tests.web.ui.conftest import csrf_token, stored
from web.ui.definition_form import form_values

EDIT = "/experiments/{key}/edit"
_VERSION = re.compile(r'name="version" value="(\d+)"')


def _filled_form(client: FlaskClient, app: Flask, key: str) -> dict[str, Any]:
    """What an editor's browser holds after opening the edit form: the stored definition's
    fields, the hidden version and the CSRF token of that page."""
    page = client.get(EDIT.format(key=key)).get_data(as_text=True)
    version = _VERSION.search(page)
    assert version, "the edit form carries no version"
    values = form_values(stored(app, key).definition).to_dict(flat=False)
    return {**values, "version": version.group(1),
            "csrf_token": csrf_token(client, EDIT.format(key=key))}


def test_the_second_of_two_editors_is_told_who_changed_what_and_keeps_her_input(
    app: Flask, signed_in: Callable[[str], FlaskClient], define: Callable[..., Any]
) -> None:
    define()
    ed, ada = signed_in("ed"), signed_in("ada")
    ada.get("/language/en")
    eds_form = _filled_form(ed, app, "urgency-close")
    adas_form = _filled_form(ada, app, "urgency-close")
    edit = EDIT.format(key="urgency-close")

    assert ed.post(edit, data={**eds_form, "name": "Ed's name"}).status_code == 302
    refused = ada.post(edit, data={**adas_form, "name": "Ada's name",
                                   "hypothesis": "Ada's long hypothesis"})

    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert 'id="edit-conflict"' in page
    conflict = page[page.index('id="edit-conflict"'):page.index('id="experiment-form"')]
    assert "<td>ed</td>" in conflict and "changed: name" in conflict
    assert 'value="Ada&#39;s name"' in page and "Ada&#39;s long hypothesis" in page
    assert stored(app, "urgency-close").name == "Ed's name"
    # The re-rendered form is based on the stored version: saving again overwrites on purpose.
    resent = {**adas_form, "name": "Ada's name", "version": _VERSION.search(page).group(1),
              "csrf_token": csrf_token(ada, edit)}
    assert ada.post(edit, data=resent).status_code == 302
    assert stored(app, "urgency-close").name == "Ada's name"


def test_the_conflict_is_named_in_chinese(
    app: Flask, signed_in: Callable[[str], FlaskClient], define: Callable[..., Any]
) -> None:
    define()
    ed, ada = signed_in("ed"), signed_in("ada")
    ada.get("/language/zh")
    adas_form = _filled_form(ada, app, "urgency-close")
    assert ed.post(EDIT.format(key="urgency-close"),
                   data={**_filled_form(ed, app, "urgency-close"), "name": "v2"}).status_code == 302
    page = ada.post(EDIT.format(key="urgency-close"),
                    data={**adas_form, "name": "v3"}).get_data(as_text=True)
    assert "未保存" in page and "修改" in page


def test_a_form_sent_back_for_errors_keeps_the_version_it_was_based_on(
    app: Flask, signed_in: Callable[[str], FlaskClient], define: Callable[..., Any]
) -> None:
    define()
    ed, ada = signed_in("ed"), signed_in("ada")
    adas_form = _filled_form(ada, app, "urgency-close")
    edit = EDIT.format(key="urgency-close")
    assert ed.post(edit, data={**_filled_form(ed, app, "urgency-close"),
                               "name": "Ed's name"}).status_code == 302
    invalid = ada.post(edit, data={**adas_form, "allocation.floor": "2"})
    # Her version is stale: the conflict comes first, whatever else is wrong.
    assert invalid.status_code == 409
    assert stored(app, "urgency-close").name == "Ed's name"


def test_a_validation_error_rerender_does_not_forget_the_original_version(
    app: Flask, signed_in: Callable[[str], FlaskClient], define: Callable[..., Any]
) -> None:
    define()
    ed, ada = signed_in("ed"), signed_in("ada")
    edit = EDIT.format(key="urgency-close")
    adas_form = _filled_form(ada, app, "urgency-close")
    invalid = ada.post(edit, data={**adas_form, "allocation.floor": "2"})
    assert invalid.status_code == 422
    kept = _VERSION.search(invalid.get_data(as_text=True)).group(1)
    assert kept == adas_form["version"]
    assert ed.post(edit, data={**_filled_form(ed, app, "urgency-close"),
                               "name": "Ed's name"}).status_code == 302
    corrected = {**adas_form, "version": kept, "csrf_token": csrf_token(ada, edit)}
    assert ada.post(edit, data=corrected).status_code == 409
    assert stored(app, "urgency-close").name == "Ed's name"


def test_a_thompson_reweight_meanwhile_is_not_a_conflict_and_keeps_the_weights(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str],
    signed_in: Callable[[str], FlaskClient],
) -> None:
    _thompson(client, admin_headers)
    ed = signed_in("ed")
    eds_form = _filled_form(ed, app, "stock-test")
    _seed(app, [(300, 15), (300, 45)])
    learned = client.post(f"{BASE}/stock-test/allocate", headers=admin_headers).json
    assert learned["action"] == "reweight"
    assert stored(app, "stock-test").version > int(eds_form["version"])

    saved = ed.post(EDIT.format(key="stock-test"), data={**eds_form, "name": "Renamed"})

    assert saved.status_code == 302, saved.get_data(as_text=True)
    experiment = stored(app, "stock-test")
    assert experiment.name == "Renamed"
    assert experiment.weights == learned["weights"]
