"""The weekly review report: every experiment that ran in an ISO week, as one self-contained file.

Teams review their sales scripts every Monday. ``abtest report weekly`` (run by cron at Monday
08:00, see README) writes the report of the last complete ISO week; the web app can also write
the current week's on demand. Nothing here computes a statistic: each experiment's figures are
the results service's document (:func:`experiments.results.experiment_results`) with the
analysis window ending at the end of the week, so the report says what was known then and
matches the results API number for number. The verdict and next steps come from
:mod:`abtest.verdict`, the pictures from :mod:`experiments.charts`, the survey figures from
:mod:`experiments.survey`.

Outputs share one model (:class:`WeeklyReport`): HTML with CSS inline and charts as ``data:``
URIs (mail it, archive it, open it offline), a PDF printed by WeasyPrint from that same HTML, and
a CSV of the per-arm table (one row per experiment x metric x arm) for spreadsheets.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from abtest import verdict as verdicts
from experiments.errors import FieldIssue, InvalidInput
from experiments.models import Experiment, utcnow
from experiments.results import experiment_results, results_document
from experiments.survey import SurveySummary, survey_summary

Lang = Literal["zh", "en"]
Format = Literal["html", "pdf", "csv"]
FORMATS: tuple[Format, ...] = ("html", "pdf", "csv")
#: Exposure attribute of the per-segment tables: the RFM tier stored by experiments.segments.
DEFAULT_SEGMENT = "segment"
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
#: Words a results section's reason (its ``reason_code``) in the report's language.
Describe = Callable[[Mapping[str, Any]], str]
_FILE = re.compile(r"abtest-weekly-(\d{4}-W\d{2})\.(html|pdf|csv)")


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week (Monday to Sunday), in UTC."""

    year: int
    week: int

    def __post_init__(self) -> None:
        """Week 53 exists only in some years; anything else outside 1..52 is a typo."""
        try:
            date.fromisocalendar(self.year, self.week, 1)
        except ValueError:
            message = f"{self.year} has no ISO week {self.week}"
            raise InvalidInput([FieldIssue("week", message)]) from None

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """``2026-W47`` → IsoWeek; InvalidInput naming the field otherwise."""
        found = _WEEK.fullmatch(text.strip())
        if found is None:
            message = f"week {text!r} is not an ISO week like 2026-W47"
            raise InvalidInput([FieldIssue("week", message)])
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def containing(cls, moment: datetime) -> IsoWeek:
        """The week ``moment`` falls in (taken in UTC)."""
        year, week, _ = moment.astimezone(UTC).isocalendar()
        return cls(year, week)

    @classmethod
    def last_complete(cls, moment: datetime) -> IsoWeek:
        """The last week that ended before ``moment``: what Monday's review looks at."""
        return cls.containing(moment - timedelta(days=7))

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def start(self) -> datetime:
        """Monday 00:00 UTC."""
        monday = date.fromisocalendar(self.year, self.week, 1)
        return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 UTC (exclusive)."""
        return self.start + timedelta(days=7)

    def days(self) -> list[str]:
        """The seven ``YYYY-MM-DD`` days, as the results' daily rows name them."""
        return [(self.start + timedelta(days=i)).date().isoformat() for i in range(7)]


@dataclass(frozen=True)
class ArmRow:
    """One metric of one arm, with the headline interval and p-value of the document's basis.

    While an experiment collects data the headline is sequential (valid under peeking), once it
    stopped fixed horizon; both are the relative lift's interval and the p-value of that scale
    (the row's ``headline`` in the results document, as on the page).
    """

    metric: str
    role: str
    kind: str
    arm: str
    label: str
    is_control: bool
    units: int
    mean: float | None
    lift: float | None
    lift_low: float | None
    lift_high: float | None
    p_value: float | None
    chance_to_beat_control: float | None
    probability_best: float | None


@dataclass(frozen=True)
class Chart:
    """A chart embedded as a ``data:`` URI, with its alt text."""

    alt: str
    uri: str


@dataclass(frozen=True)
class ExperimentReport:
    """One experiment's part of the report: the results document and what is shown of it."""

    key: str
    name: str
    status: str
    document: Mapping[str, Any]
    labels: Mapping[str, str]
    week_units: tuple[int, ...]
    rows: tuple[ArmRow, ...]
    verdict: str
    next_steps: tuple[str, ...]
    charts: tuple[Chart, ...]
    survey: SurveySummary


@dataclass(frozen=True)
class WeeklyReport:
    """Every experiment running or ended in ``week``, analysed up to ``window_end``."""

    week: IsoWeek
    lang: Lang
    generated_at: datetime
    window_end: datetime
    experiments: tuple[ExperimentReport, ...]


def weekly_experiments(session: Session, week: IsoWeek) -> list[Experiment]:
    """Experiments started before the week ended and not stopped before it began, by key."""
    query = (
        select(Experiment)
        .where(
            Experiment.started_at.is_not(None),
            Experiment.started_at < week.end,
            or_(Experiment.stopped_at.is_(None), Experiment.stopped_at >= week.start),
        )
        .order_by(Experiment.key)
    )
    return list(session.scalars(query))


def build_weekly_report(
    session: Session,
    week: IsoWeek,
    *,
    lang: Lang = "zh",
    segment: str = DEFAULT_SEGMENT,
    progress: bool = False,
    now: datetime | None = None,
) -> WeeklyReport:
    """Analyse every experiment of ``week`` up to its end (or now, for the current week).

    ``progress`` shows a tqdm bar per experiment on stderr when it is a terminal (the CLI; a week
    of many experiments takes a while: charts and queries); cron's mail stays clean.
    """
    generated_at = now or utcnow()
    window_end = min(week.end - timedelta(microseconds=1), generated_at)
    found = weekly_experiments(session, week)
    bar = tqdm(found, desc=f"report {week.label}", unit="experiment",
               disable=None if progress else True)
    parts = tuple(
        experiment_report(session, experiment.key, week, window_end, lang, segment)
        for experiment in bar
    )
    return WeeklyReport(week, lang, generated_at, window_end, parts)


def experiment_report(
    session: Session, key: str, week: IsoWeek, window_end: datetime, lang: Lang, segment: str
) -> ExperimentReport:
    """One experiment's figures from the results service, with verdict, charts and survey."""
    from experiments import charts  # matplotlib: seconds to import, so only when reporting
    results = experiment_results(session, key, segment=segment, until=window_end)
    document = results_document(results)
    labels = charts.arm_labels(document, lang)
    found = verdicts.decision_of(document)
    return ExperimentReport(
        key=results.experiment,
        name=results.name,
        status=results.experiment_status,
        document=document,
        labels=labels,
        week_units=units_in_days(document, week.days()),
        rows=arm_rows(document, labels),
        verdict=verdicts.render(found, lang, labels),
        next_steps=tuple(verdicts.step_texts(found, lang, labels)),
        charts=_charts(session, document, window_end, lang),
        survey=survey_summary(session, key),
    )


def units_in_days(document: Mapping[str, Any], days: Iterable[str]) -> tuple[int, ...]:
    """Units per arm first exposed on ``days``, from the document's daily rows."""
    wanted = set(days)
    totals = [0] * len(document["arms"])
    for day in document["daily"]:
        if day["day"] in wanted:
            totals = [total + units for total, units in zip(totals, day["units"], strict=True)]
    return tuple(totals)


def arm_rows(document: Mapping[str, Any], labels: Mapping[str, str]) -> tuple[ArmRow, ...]:
    """Every metric x arm of a results document (or of one segment's metrics)."""
    return tuple(
        row
        for metric in document["metrics"]
        for row in metric_rows(metric, document["decision_basis"], labels)
    )


def metric_rows(
    metric: Mapping[str, Any], basis: str, labels: Mapping[str, str]
) -> list[ArmRow]:
    """The arms of one metric of a results document: each row's headline interval and p-value
    (one scale, the relative lift's, for the document's ``basis``), as the page shows them."""
    rows = []
    for arm in metric["arms"]:
        lift, headline = arm["lift"], arm["headline"]
        low, high = headline["ci"] if headline else (None, None)
        rows.append(ArmRow(
            metric=metric["name"], role=metric["role"], kind=metric["kind"], arm=arm["arm"],
            label=labels.get(arm["arm"], arm["arm"]), is_control=arm["is_control"],
            units=arm["units"], mean=arm["mean"], lift=lift["relative"] if lift else None,
            lift_low=low, lift_high=high,
            p_value=headline["p_value"] if headline else None,
            chance_to_beat_control=arm["chance_to_beat_control"],
            probability_best=arm["probability_best"],
        ))
    return rows


def _charts(
    session: Session, document: Mapping[str, Any], window_end: datetime, lang: Lang
) -> tuple[Chart, ...]:
    """Lift, probability to be best, cumulative primary metric, allocation up to the window end."""
    from experiments import charts
    history = [
        point for point in charts.allocation_history(session, document["experiment"])
        if point.at <= window_end
    ]
    pictures = [
        charts.lift_chart(document, lang=lang),
        charts.probability_best_chart(document, lang=lang),
        charts.cumulative_chart(document, lang=lang),
        charts.allocation_chart(history, document["arms"], document["control"],
                                until=window_end, lang=lang),
    ]
    names = ("lift", "probability_best", "cumulative", "allocation")
    return tuple(Chart(name, charts.data_uri(png)) for name, png in zip(names, pictures,
                                                                         strict=True))


CSV_COLUMNS = (
    "week", "experiment", "status", "metric", "role", "arm", "is_control", "units",
    "units_in_week", "mean", "lift", "lift_low", "lift_high", "p_value",
    "chance_to_beat_control", "probability_best", "decision_basis",
)


def csv_text(report: WeeklyReport) -> str:
    """The per-arm table: one row per experiment x metric x arm, numbers at full precision."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for part in report.experiments:
        week_units = dict(zip(part.document["arms"], part.week_units, strict=True))
        for row in part.rows:
            writer.writerow({
                **{name: getattr(row, name) for name in CSV_COLUMNS if hasattr(row, name)},
                "week": report.week.label, "experiment": part.key, "status": part.status,
                "units_in_week": week_units[row.arm],
                "decision_basis": part.document["decision_basis"],
            })
    return buffer.getvalue()


TEXTS: dict[Lang, dict[str, str]] = {
    "zh": {
        "title": "话术实验周报", "week": "周", "generated": "生成时间", "window": "数据截至",
        "empty": "本周没有运行中的实验", "overview": "本周概览", "todo": "下一步",
        "experiment": "实验", "status": "状态", "verdict": "结论", "traffic": "流量与曝光",
        "arm": "组", "week_units": "本周新曝光", "total_units": "累计曝光",
        "metrics": "指标", "units": "样本", "mean": "均值", "lift": "相对对照提升",
        "interval": "区间", "p": "p 值", "beat": "胜过对照概率", "best": "最优概率",
        "primary": "主要指标", "secondary": "次要指标", "guardrail": "护栏指标",
        "sequential": "序贯（可随时查看）", "fixed_horizon": "固定样本",
        "basis": "判定口径", "charts": "图表", "factorial": "因子效应", "term": "项",
        "estimate": "估计", "segments": "分群（{attribute}）", "segment": "分群",
        "srm": "分流检查（SRM）", "srm_ok": "正常", "srm_bad": "流量比例与设定不符",
        "control": "对照", "no_segments": "曝光属性中没有分群信息",
        "running": "运行中", "paused": "已暂停", "stopped": "已结束", "promoted": "已推广",
        "draft": "草稿", "survey": "顾客问卷", "responses": "回答数", "csat": "满意度（4–5 分）",
        "helpful": "觉得有帮助", "rating": "平均评分", "moved": "最打动顾客的话术",
        "confused": "最让顾客困惑的话术", "unit": "话术单元", "variant": "版本",
        "count": "次数", "all": "全部", "comments": "顾客留言（最近几条）",
        "no_answers": "本实验还没有问卷回答",
        "reports": "实验周报", "no_reports": "还没有生成过周报", "files": "文件",
        "updated": "更新时间", "generate": "生成周报", "written": "已生成 {week} 周报",
        "week_help": "ISO 周，如 {example}；留空为本周（截至现在）",
        "out_of_bound": "{count} 个事件未计入：其数值超出任何指标可接受的范围"
                        "（在数值设限之前存入）",
    },
    "en": {
        "title": "Sales-script experiments: weekly report", "week": "Week",
        "generated": "Generated", "window": "Data up to", "empty": "No experiments ran this week",
        "overview": "This week at a glance", "todo": "Next steps", "experiment": "Experiment",
        "status": "Status", "verdict": "Verdict", "traffic": "Traffic and exposures",
        "arm": "Arm", "week_units": "New this week", "total_units": "Total exposed",
        "metrics": "Metrics", "units": "Units", "mean": "Mean", "lift": "Lift vs control",
        "interval": "interval", "p": "p-value", "beat": "P(beats control)",
        "best": "P(best)", "primary": "primary", "secondary": "secondary",
        "guardrail": "guardrail", "sequential": "sequential (valid under peeking)",
        "fixed_horizon": "fixed horizon", "basis": "Headline", "charts": "Charts",
        "factorial": "Factorial effects", "term": "Term", "estimate": "Estimate",
        "segments": "Segments ({attribute})", "segment": "Segment",
        "srm": "Sample ratio check (SRM)", "srm_ok": "OK",
        "srm_bad": "traffic split does not match the weights", "control": "control",
        "no_segments": "no segment attribute in the exposures", "running": "running",
        "paused": "paused", "stopped": "stopped", "promoted": "promoted", "draft": "draft",
        "survey": "Shopper survey", "responses": "Answers", "csat": "CSAT (4-5 stars)",
        "helpful": "Found it helpful", "rating": "Mean rating", "moved": "Most moving script",
        "confused": "Most confusing script", "unit": "Unit", "variant": "Variant",
        "count": "Times", "all": "All", "comments": "Recent comments",
        "no_answers": "no survey answers yet",
        "reports": "Weekly reports", "no_reports": "No reports written yet", "files": "Files",
        "updated": "Updated", "generate": "Write report", "written": "Report {week} written",
        "week_help": "ISO week like {example}; blank: this week so far",
        "out_of_bound": "{count} event(s) left out: their value is beyond what any metric"
                        " accepts (stored before values were bounded)",
    },
}


def _environment() -> Environment:
    """Jinja2 over experiments/report_templates, autoescaped, failing on undefined names."""
    environment = Environment(
        loader=PackageLoader("experiments", "report_templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(pct=_pct, num=_num, signed=_signed)
    return environment


def english_reason(section: Mapping[str, Any]) -> str:
    """A results section's own (English) reason: the default of :func:`render_html`."""
    return str(section.get("reason") or "")


def render_html(report: WeeklyReport, reason: Describe = english_reason) -> str:
    """The report as one HTML document (CSS inline, images as data: URIs).

    ``reason`` words a section's reason code in the report's language; the caller brings the
    translation (web.ui.reasons.describer), as experiments/ has no catalogue of its own.
    """
    from experiments.charts import metric_name
    template = _environment().get_template("weekly.html.j2")
    return template.render(
        report=report, t=TEXTS[report.lang],
        metric_name=lambda name: metric_name(name, report.lang),
        metric_rows=metric_rows, reason=reason,
    )


def render_pdf(html: str) -> bytes:
    """The same HTML printed to PDF (A4, by the report's own print CSS)."""
    from weasyprint import HTML  # heavy import (Pango): only when a PDF is asked for

    return HTML(string=html).write_pdf()


def report_filename(week: IsoWeek, fmt: Format) -> str:
    return f"abtest-weekly-{week.label}.{fmt}"


def write_report(report: WeeklyReport, directory: Path, formats: Sequence[Format],
                 reason: Describe = english_reason) -> list[Path]:
    """Write the asked formats into ``directory`` (created); returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    html = render_html(report, reason)
    contents: dict[Format, bytes] = {}
    for fmt in formats:
        if fmt == "html":
            contents[fmt] = html.encode("utf-8")
        elif fmt == "pdf":
            contents[fmt] = render_pdf(html)
        else:
            contents[fmt] = csv_text(report).encode("utf-8")
    paths = []
    for fmt, content in contents.items():
        path = directory / report_filename(report.week, fmt)
        path.write_bytes(content)
        paths.append(path)
    return paths


def parse_formats(text: str) -> list[Format]:
    """``html,pdf,csv`` → formats in that order; InvalidInput naming an unknown one."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        message = f"unknown format {unknown[0]!r}" if unknown else "no format given"
        raise InvalidInput([FieldIssue("format", f"{message}; choose from {', '.join(FORMATS)}")])
    return list(dict.fromkeys(names))  # type: ignore[arg-type]


@dataclass(frozen=True)
class StoredReport:
    """A week's report files in the report directory."""

    week: str
    files: Mapping[str, str]
    modified: datetime


def stored_reports(directory: Path) -> list[StoredReport]:
    """Reports found in ``directory``, newest week first (a missing directory has none)."""
    weeks: dict[str, dict[str, Path]] = {}
    for path in directory.glob("abtest-weekly-*") if directory.is_dir() else ():
        found = _FILE.fullmatch(path.name)
        if found:
            weeks.setdefault(found[1], {})[found[2]] = path
    return [
        StoredReport(
            week,
            {fmt: path.name for fmt, path in sorted(files.items())},
            max(datetime.fromtimestamp(p.stat().st_mtime, UTC) for p in files.values()),
        )
        for week, files in sorted(weeks.items(), reverse=True)
    ]


def is_report_file(name: str) -> bool:
    """Whether ``name`` is a report file name (what a download may serve)."""
    return _FILE.fullmatch(name) is not None


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}g}"
