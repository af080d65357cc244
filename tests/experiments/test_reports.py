"""The weekly report on a seeded week of traffic: numbers equal the results API's, the HTML is
self-contained and valid (html5lib's strict WHATWG parser, unique ids), the PDF has its pages
and sections with the Chinese text extractable from embedded fonts, the CSV holds the per-arm
table, an empty week says so in a short report, and the progress bar shows on a terminal."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import html5lib
import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from experiments.definitions import create_experiment
from experiments.errors import InvalidInput
from experiments.lifecycle import stop_experiment
from experiments.reports import (
    TEXTS,
    ExperimentReport,
    IsoWeek,
    build_weekly_report,
    csv_text,
    parse_formats,
    render_html,
    stored_reports,
    weekly_experiments,
    write_report,
)
from tests.experiments.conftest import require_cjk_font, stock_definition
from tests.experiments.report_seed import KEY, WEEK, add_late_traffic, seed_week, start_in_week
from web.cli import main

#: Columns of the per-arm table, as the template heads it.
ARM_COLUMNS = ("arm", "units", "mean", "lift", "interval", "p", "beat", "best")


def check_html(html: str) -> list[str]:
    """Parse ``html`` as a browser would, failing on any HTML5 parse error (bad nesting, stray
    end tags, a missing doctype...) and on duplicate ids; returns every URL it would fetch."""
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    try:
        tree = parser.parse(html)
    except html5lib.html5parser.ParseError:
        (line, column), code, data = parser.errors[0]
        raise AssertionError(f"HTML parse error {code} {data} at line {line}, column {column}"
                             ) from None
    ids = Counter(element.get("id") for element in tree.iter() if element.get("id"))
    assert [name for name, count in ids.items() if count > 1] == [], "duplicate ids"
    return [element.get(name, "") for element in tree.iter()
            for name in ("src", "srcset") + (("href",) if element.tag == "link" else ())
            if element.get(name) is not None]


def test_the_html_check_rejects_bad_nesting_and_duplicate_ids() -> None:
    page = "<!DOCTYPE html><html lang=en><head><title>t</title></head><body>{}</body></html>"
    assert check_html(page.format('<p id="a">x</p><img src="data:,">')) == ["data:,"]
    for body, words in [("<p><div>x</div></p>", "unexpected-end-tag"),
                        ("<b><i>x</b></i>", "adoption-agency"),
                        ("<table><tr><td>1</td></tr></div></table>", "unexpected-end-tag"),
                        ('<p id="a">x</p><p id="a">y</p>', "duplicate ids")]:
        with pytest.raises(AssertionError, match=words):
            check_html(page.format(body))
    with pytest.raises(AssertionError, match="expected-doctype"):
        check_html("<html><body>x</body></html>")


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text with all whitespace removed (WeasyPrint breaks lines where it lays out)."""
    return [squeeze(page.extract_text()) for page in PdfReader(io.BytesIO(data)).pages]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def embedded_fonts(data: bytes) -> dict[str, bool]:
    """Every font the PDF's pages use → whether its glyph program is embedded in the file."""
    fonts = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for described in [font, *[d.get_object() for d in font.get("/DescendantFonts", [])]]:
                if "/FontDescriptor" in described:
                    descriptor = described["/FontDescriptor"].get_object()
                    fonts[str(described["/BaseFont"])] = any(
                        key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
    return fonts


def test_iso_weeks() -> None:
    assert IsoWeek.parse("2026-W47") == WEEK
    assert WEEK.start == datetime(2026, 11, 16, tzinfo=UTC)
    assert WEEK.end == datetime(2026, 11, 23, tzinfo=UTC)
    assert WEEK.days()[-1] == "2026-11-22"
    monday_morning = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert IsoWeek.last_complete(monday_morning) == WEEK
    assert IsoWeek.containing(monday_morning) == IsoWeek(2026, 48)
    assert IsoWeek.last_complete(datetime(2027, 1, 4, tzinfo=UTC)).label == "2026-W53"
    for bad, words in [("2026-47", "not an ISO week"), ("2027-W53", "no ISO week 53"),
                       ("2026-W00", "no ISO week 0")]:
        with pytest.raises(InvalidInput) as raised:
            IsoWeek.parse(bad)
        assert raised.value.field == "week" and words in raised.value.message


def test_both_languages_have_every_text() -> None:
    assert TEXTS["zh"].keys() == TEXTS["en"].keys()


def test_parse_formats() -> None:
    assert parse_formats("pdf, html,pdf") == ["pdf", "html"]
    with pytest.raises(InvalidInput, match="unknown format 'docx'"):
        parse_formats("html,docx")


def test_experiments_of_the_week(session: Session) -> None:
    def start(key: str, at: datetime, stopped: datetime | None = None) -> None:
        experiment = start_in_week(session, stock_definition(key), at)
        if stopped is not None:
            stop_experiment(session, key)
            experiment.stopped_at = stopped
            session.commit()

    start("before", WEEK.start - timedelta(days=20), stopped=WEEK.start - timedelta(days=1))
    start("ended-in-week", WEEK.start - timedelta(days=20), stopped=WEEK.start + timedelta(days=2))
    start("still-running", WEEK.start - timedelta(days=3))
    start("started-sunday", WEEK.end - timedelta(minutes=1))
    start("after", WEEK.end)
    create_experiment(session, stock_definition("draft-only"))
    keys = [e.key for e in weekly_experiments(session, WEEK)]
    assert keys == ["ended-in-week", "started-sunday", "still-running"]


def test_report_numbers_equal_the_results_api(session: Session, playbook, client,
                                              admin_headers) -> None:
    seeded = seed_week(session, playbook)
    report = build_weekly_report(session, WEEK, now=WEEK.end + timedelta(hours=8))
    [part] = report.experiments
    api = client.get(f"/api/v1/experiments/{KEY}/results", headers=admin_headers).json
    rows = list(csv.DictReader(io.StringIO(csv_text(report))))
    assert len(rows) == len(api["metrics"]) * len(api["arms"]) == 24
    expected = [(m["name"], a["arm"], a["units"]) for m in api["metrics"] for a in m["arms"]]
    assert [(r["metric"], r["arm"], int(r["units"])) for r in rows] == expected
    # SQL sums may add in another order with the window filter: equal to float precision.
    def field(arm: dict, name: str) -> float | None:
        """The API's figure shown in a report column; p and interval are the row's headline."""
        if name in ("p_value", "lift_low", "lift_high"):
            headline = arm["headline"]
            return None if headline is None else (
                headline["p_value"] if name == "p_value"
                else headline["ci"][name == "lift_high"])
        return arm[name]

    for name in ("mean", "p_value", "lift_low", "lift_high", "probability_best",
                 "chance_to_beat_control"):
        ours = [None if r[name] == "" else float(r[name]) for r in rows]
        theirs = [field(a, name) for m in api["metrics"] for a in m["arms"]]
        assert [x is None for x in ours] == [y is None for y in theirs], name
        assert [x for x in ours if x is not None] == pytest.approx(
            [y for y in theirs if y is not None], rel=1e-12, abs=1e-15), name
    assert part.week_units == tuple(api["units"])
    assert sum(part.week_units) == len(seeded.exposed_at)
    assert part.document["segments"]["attribute"] == "segment"
    assert {s["value"] for s in part.document["segments"]["values"]} >= {"(none)"}
    assert part.document["factorial"]["terms"]
    assert report.window_end == WEEK.end - timedelta(microseconds=1)


def test_html_pdf_csv_of_a_week_with_later_traffic(session: Session, playbook,
                                                  tmp_path: Path) -> None:
    seeded = seed_week(session, playbook)
    add_late_traffic(session)
    report = build_weekly_report(session, WEEK, now=WEEK.end + timedelta(days=2))
    [part] = report.experiments
    assert sum(part.document["units"]) == len(seeded.exposed_at)  # the late unit is left out
    paths = write_report(report, tmp_path, ["html", "pdf", "csv"])
    assert [p.name for p in paths] == [f"abtest-weekly-{WEEK.label}.{f}"
                                      for f in ("html", "pdf", "csv")]
    html = paths[0].read_text(encoding="utf-8")
    fetched = check_html(html)
    assert len(fetched) == 4
    assert all(url.startswith("data:image/png;base64,") for url in fetched)
    assert "http://" not in html and "https://" not in html
    for heading in ("话术实验周报", "本周概览", "流量与曝光", "因子效应", "分群（segment）",
                    "分流检查（SRM）", "顾客问卷", "满意度（4–5 分）", KEY, WEEK.label,
                    part.verdict, *part.next_steps, part.survey.comments[0].comment):
        assert heading in html
    _check_pdf(paths[1].read_bytes(), part)
    rows = list(csv.DictReader(io.StringIO(paths[2].read_text(encoding="utf-8"))))
    assert {(r["experiment"], r["week"]) for r in rows} == {(KEY, WEEK.label)}
    assert len(rows) == 3 * 8


def _check_pdf(data: bytes, part: ExperimentReport) -> None:
    """The overview page, then the experiment's sections in order, in extractable Chinese."""
    require_cjk_font()
    fonts = embedded_fonts(data)
    assert fonts and all(fonts.values()), fonts
    assert any("WenQuanYi" in name for name in fonts), fonts
    overview, *rest = pdf_pages(data)
    assert overview.startswith(squeeze(f"话术实验周报 · {WEEK.label}"))
    for text in ("本周概览", KEY, part.verdict, "下一步", *part.next_steps):
        assert squeeze(text) in overview, text
    experiment = "".join(rest)
    assert rest[0].startswith(squeeze(f"{KEY} · {part.name}"))  # its own page
    table_head = "".join(TEXTS["zh"][column] for column in ARM_COLUMNS)
    sections = [part.verdict, "流量与曝光", "指标", table_head, "分流检查（SRM）", "因子效应",
                "分群（segment）", "顾客问卷", "满意度（4–5 分）",
                part.survey.comments[0].comment, "图表"]
    at = [experiment.find(squeeze(text)) for text in sections]
    assert -1 not in at and at == sorted(at), dict(zip(sections, at, strict=True))
    primary = [row for row in part.rows if row.role == "primary"]
    for row in primary:  # the per-arm table: each arm's label, then its units
        assert squeeze(f"{row.label}{row.units}") in experiment, row.label
    assert ("正常" if not part.document["srm"]["mismatch"] else "流量比例与设定不符") in experiment


def test_empty_week_says_so(session: Session, tmp_path: Path) -> None:
    week = IsoWeek(2026, 10)
    report = build_weekly_report(session, week)
    assert report.experiments == ()
    assert report.window_end == week.end - timedelta(microseconds=1)
    wednesday = week.start + timedelta(days=2, hours=9)
    assert build_weekly_report(session, week, now=wednesday).window_end == wednesday
    html = render_html(report)
    assert check_html(html) == []
    assert "本周没有运行中的实验" in html
    english = render_html(build_weekly_report(session, week, lang="en"))
    assert "No experiments ran this week" in english and '<html lang="en">' in english
    paths = write_report(report, tmp_path, ["csv", "pdf"])
    assert paths[0].read_text(encoding="utf-8").count("\n") == 1  # the header only
    [page] = pdf_pages(paths[1].read_bytes())
    assert page.startswith(squeeze(f"话术实验周报 · {week.label}"))
    assert "本周没有运行中的实验" in page
    assert len(page) < 120 and "本周概览" not in page, page  # title, dates, the empty note
    [stored] = stored_reports(tmp_path)
    assert (stored.week, sorted(stored.files)) == ("2026-W10", ["csv", "pdf"])


def test_cli_writes_the_asked_formats(runner, engine, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = runner.invoke(main, ["report", "weekly", "--week", "2026-W10", "--out",
                                  str(out), "--format", "html,csv", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "abtest-weekly-2026-W10.csv", "abtest-weekly-2026-W10.html"]
    assert str(out / "abtest-weekly-2026-W10.html") in result.output
    assert "No experiments ran this week" in (out / "abtest-weekly-2026-W10.html").read_text(
        encoding="utf-8")
    for args, words in [(["--week", "2026-W60"], "--week: 2026 has no ISO week 60"),
                        (["--format", "html,docx"], "--format: unknown format 'docx'")]:
        bad = runner.invoke(main, ["report", "weekly", "--out", str(out), *args])
        assert bad.exit_code == 1 and f"error: {words}" in bad.stderr
        assert "Traceback" not in bad.output


def test_the_chinese_report_words_the_engine_reasons_in_chinese(
    session: Session, runner, tmp_path: Path
) -> None:
    start_in_week(session, stock_definition("quiet"), WEEK.start + timedelta(days=1))
    result = runner.invoke(main, ["report", "weekly", "--week", WEEK.label, "--out",
                                  str(tmp_path), "--format", "html", "--lang", "zh"])
    assert result.exit_code == 0, result.output
    html = (tmp_path / f"abtest-weekly-{WEEK.label}.html").read_text(encoding="utf-8")
    assert "还没有顾客被分流。" in html and "还没有任何版本组合有顾客。" in html
    assert "no units assigned yet" not in html and "no cell has units yet" not in html
    report = build_weekly_report(session, WEEK, lang="en")
    assert "no cell has units yet" in render_html(report)  # experiments/ alone: English


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, as the CLI's is when a person runs it."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("progress", "tty", "shown"), [
    (True, True, True), (True, False, False), (False, True, False)])
def test_progress_bar_only_when_asked_and_on_a_terminal(
        session: Session, monkeypatch: pytest.MonkeyPatch, progress: bool, tty: bool,
        shown: bool) -> None:
    """The CLI asks for it (a long week takes a while); cron's mail and the web app stay clean."""
    start_in_week(session, stock_definition("shown-in-bar"), WEEK.start + timedelta(hours=1))
    stderr = Terminal() if tty else io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    build_weekly_report(session, WEEK, progress=progress, now=WEEK.end)
    if shown:
        assert f"report {WEEK.label}: 100%" in stderr.getvalue()
        assert "1/1" in stderr.getvalue()
    else:
        assert stderr.getvalue() == ""
