"""Two editors at once and edits of a live Thompson experiment, on SQLite and PostgreSQL:
a stale PUT is a 412 that writes nothing, and edits that keep the arms keep what was learned."""
from __future__ import annotations

from experiments.definitions import get_experiment
from tests.experiments.conftest import stock_definition
from tests.web.test_api_allocation import BASE, _seed, _thompson
from tests.web.test_api_errors import check_error

URL = f"{BASE}/stock-test"


def _renamed(name: str) -> dict:
    return stock_definition(name=name)


def test_get_sends_the_version_as_etag_and_put_honours_if_match(client, admin_headers) -> None:
    assert client.post(BASE, json=stock_definition(), headers=admin_headers).status_code == 201
    read = client.get(URL, headers=admin_headers)
    etag = read.headers["ETag"]
    assert etag == f'"{read.json["version"]}"'
    # Editor A saves first, with the version both editors read.
    first = client.put(URL, json=_renamed("A's name"), headers={**admin_headers, "If-Match": etag})
    assert first.status_code == 200, first.json
    assert first.headers["ETag"] == f'"{first.json["version"]}"' != etag
    # Editor B's save, made from the same read, is refused and loses nothing of A's.
    stale = client.put(URL, json=_renamed("B's name"), headers={**admin_headers, "If-Match": etag})
    error = check_error(stale, 412, "precondition_failed")
    assert "changed since" in error["message"]
    assert client.get(URL, headers=admin_headers).json["name"] == "A's name"
    # B reads again and saves over the fresh version.
    fresh = client.get(URL, headers=admin_headers).headers["ETag"]
    again = client.put(URL, json=_renamed("B's name"), headers={**admin_headers, "If-Match": fresh})
    assert again.status_code == 200 and again.json["name"] == "B's name"


def test_an_unreadable_if_match_is_refused_not_ignored(client, admin_headers) -> None:
    assert client.post(BASE, json=stock_definition(), headers=admin_headers).status_code == 201
    for header in ('W/"1"', '"abc"', '"1", "2"'):
        answer = client.put(URL, json=_renamed("x"), headers={**admin_headers, "If-Match": header})
        check_error(answer, 412, "precondition_failed")
    assert client.get(URL, headers=admin_headers).json["name"] != "x"
    # Without If-Match (or with *) the write is unconditional, as before.
    star = client.put(URL, json=_renamed("y"), headers={**admin_headers, "If-Match": "*"})
    assert star.status_code == 200


def test_renaming_a_live_thompson_experiment_keeps_its_learned_weights(
    app, client, admin_headers
) -> None:
    _thompson(client, admin_headers)
    _seed(app, [(300, 15), (300, 45)])
    learned = client.post(f"{URL}/allocate", headers=admin_headers).json
    assert learned["weights"] != [0.5, 0.5]
    definition = stock_definition(allocation=client.get(URL, headers=admin_headers)
                                  .json["definition"]["allocation"], name="Renamed")
    edited = client.put(URL, json=definition, headers=admin_headers)
    assert edited.status_code == 200, edited.json
    assert edited.json["weights"] == learned["weights"]
    assert edited.json["weights_version"] == learned["weights_version"]
    with app.extensions["abtest"].session_factory() as session:
        assert get_experiment(session, "stock-test").name == "Renamed"


def test_changing_the_defined_weights_of_a_live_experiment_applies_them(
    app, client, admin_headers
) -> None:
    _thompson(client, admin_headers)
    _seed(app, [(300, 15), (300, 45)])
    client.post(f"{URL}/allocate", headers=admin_headers)
    allocation = client.get(URL, headers=admin_headers).json["definition"]["allocation"]
    edited = client.put(URL, json=stock_definition(allocation=allocation, weights=[0.3, 0.7]),
                        headers=admin_headers)
    assert edited.status_code == 200, edited.json
    assert edited.json["weights"] == [0.3, 0.7]
