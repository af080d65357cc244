"""The weekly report on a seeded week of traffic: numbers equal the results API's, the HTML is
self-contained and well formed, the PDF and CSV hold what they should, an empty week says so."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from experiments.definitions import create_experiment
from experiments.errors import InvalidInput
from experiments.lifecycle import stop_experiment
from experiments.reports import (
    TEXTS,
    IsoWeek,
    build_weekly_report,
    csv_text,
    parse_formats,
    render_html,
    stored_reports,
    weekly_experiments,
    write_report,
)
from tests.experiments.conftest import stock_definition
from tests.experiments.report_seed import KEY, WEEK, add_late_traffic, seed_week, start_in_week
from web.cli import main

VOID = {"meta", "br", "img", "hr", "input", "link", "col", "area", "base", "wbr", "source"}


class TagChecker(HTMLParser):
    """Open/close balance and every URL an element would fetch."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.fetched: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.fetched += [value or "" for name, value in attrs if name in ("src", "srcset")]
        self.fetched += [value or "" for name, value in attrs
                         if name == "href" and tag == "link"]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> at {self.getpos()} closes {self.stack[-1:]}")
        else:
            self.stack.pop()


def check_html(html: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(html)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    return checker


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
    for name in ("mean", "p_value_sequential", "probability_best", "chance_to_beat_control"):
        column = "p_value" if name == "p_value_sequential" else name
        ours = [None if r[column] == "" else float(r[column]) for r in rows]
        theirs = [a[name] for m in api["metrics"] for a in m["arms"]]
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
    checker = check_html(html)
    assert len(checker.fetched) == 4
    assert all(url.startswith("data:image/png;base64,") for url in checker.fetched)
    assert "http://" not in html and "https://" not in html
    for heading in ("话术实验周报", "本周概览", "流量与曝光", "因子效应", "分群（segment）",
                    "分流检查（SRM）", "顾客问卷", "满意度（4–5 分）", KEY, WEEK.label,
                    part.verdict, *part.next_steps, part.survey.comments[0].comment):
        assert heading in html
    pdf = PdfReader(io.BytesIO(paths[1].read_bytes()))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert len(pdf.pages) >= 2
    assert KEY in text and WEEK.label in text
    rows = list(csv.DictReader(io.StringIO(paths[2].read_text(encoding="utf-8"))))
    assert {(r["experiment"], r["week"]) for r in rows} == {(KEY, WEEK.label)}
    assert len(rows) == 3 * 8


def test_empty_week_says_so(session: Session, tmp_path: Path) -> None:
    week = IsoWeek(2026, 10)
    report = build_weekly_report(session, week)
    assert report.experiments == ()
    assert report.window_end == week.end - timedelta(microseconds=1)
    wednesday = week.start + timedelta(days=2, hours=9)
    assert build_weekly_report(session, week, now=wednesday).window_end == wednesday
    html = render_html(report)
    check_html(html)
    assert "本周没有运行中的实验" in html
    english = render_html(build_weekly_report(session, week, lang="en"))
    assert "No experiments ran this week" in english and '<html lang="en">' in english
    paths = write_report(report, tmp_path, ["csv", "pdf"])
    assert paths[0].read_text(encoding="utf-8").count("\n") == 1  # the header only
    assert len(PdfReader(io.BytesIO(paths[1].read_bytes())).pages) == 1
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
