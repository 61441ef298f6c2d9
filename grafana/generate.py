"""Generate the deskpulse Grafana dashboards (classic JSON) with grafana-foundation-sdk.

    .venv/bin/python grafana/generate.py           # writes grafana/dashboards/*.json and the alerting YAML
    .venv/bin/python grafana/generate.py --check   # exit 1 if the committed JSON is stale

SDK pin and pitfalls: OBSERVABILITY.md §1 and deploy/VERSIONS.md (grafana-foundation-sdk==1769699379!11.6.0,
Grafana 11.6). Layout only here; every PromQL query is in grafana/queries.py. Each panel gets an explicit id and
gridPos, every query the provisioned datasource uid, every stat panel ``calcs: ["lastNotNull"]``; no rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig, ReduceDataOptions, StackingConfig
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DashboardLink,
    QueryVariable,
    ThresholdsConfig,
    TimePicker,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery as PromQuery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DynamicConfigValue,
    DataSourceRef,
    DataTransformerConfig,
    GridPos,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableRefresh,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from grafana import alerting  # noqa: E402
from grafana import queries as q  # noqa: E402
from grafana.queries import TARGETS as T  # noqa: E402

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE_UID = "deskpulse-prometheus"
DS = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
GREEN, ORANGE, RED, BLUE = "green", "orange", "red", "blue"


# --- small helpers ---------------------------------------------------------------------------------------------

def steps(*pairs: tuple[float | None, str]) -> ThresholdsConfig:
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Threshold(value=v, color=c) for v, c in pairs])


def lower_is_better(warn: float, alarm: float) -> ThresholdsConfig:
    return steps((None, GREEN), (warn, ORANGE), (alarm, RED))


def higher_is_better(target: float, margin: float) -> ThresholdsConfig:
    return steps((None, RED), (target - margin, ORANGE), (target, GREEN))


# Legends name queues and agents by their display names: a series per queue (agent) joins its
# deskpulse_queue_info (deskpulse_agent_info) series, whose ``name`` is the SLA config's, the platform's or the id.
INFO = {"queue": "deskpulse_queue_info", "agent": "deskpulse_agent_info"}


def named(expr: str, legend: str) -> tuple[str, str]:
    """``expr`` joined with the names of its queues or agents when ``legend`` shows them, and the legend with
    ``{{name}}`` in place of the id."""
    for key, info in INFO.items():
        if "{{%s}}" % key in legend:
            return f"({expr}) * on (platform, {key}) group_left (name) {info}", legend.replace("{{%s}}" % key, "{{name}}")
    return expr, legend


def query(expr: str, legend: str = "", ref: str = "A", instant: bool = False, fmt_table: bool = False) -> PromQuery:
    expr, legend = named(expr.replace("{}", ""), legend)
    b = PromQuery().expr(expr).ref_id(ref).datasource(DS)
    if legend:
        b = b.legend_format(legend)
    if instant:
        b = b.instant()
    else:
        b = b.range()
    if fmt_table:
        b = b.format(PromQueryFormat.TABLE)
    return b


class Layout:
    """Numbers panels and places them: ``at(x, y, w, h)``."""

    def __init__(self) -> None:
        self.next_id = 1

    def place(self, panel, x: int, y: int, w: int, h: int):
        panel = panel.id(self.next_id).grid_pos(GridPos(h=h, w=w, x=x, y=y)).datasource(DS)
        self.next_id += 1
        return panel


def big_stat(title: str, expr: str, unit: str, thresholds: ThresholdsConfig, *, legend: str = "",
             description: str = "", decimals: int | None = None, per_series: bool = False) -> stat.Panel:
    p = (stat.Panel().title(title).description(description).unit(unit).thresholds(thresholds)
         .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
         .color_mode(common.BigValueColorMode.BACKGROUND).graph_mode(common.BigValueGraphMode.NONE)
         .text_mode(common.BigValueTextMode.VALUE_AND_NAME if per_series else common.BigValueTextMode.VALUE)
         .justify_mode(common.BigValueJustifyMode.CENTER)
         .orientation(common.VizOrientation.AUTO)
         .no_value("–")
         .with_target(query(expr, legend or ("{{queue}}" if per_series else title), instant=True)))
    if decimals is not None:
        p = p.decimals(decimals)
    return p


def trend(title: str, targets: list[PromQuery], unit: str, *, description: str = "", stacked: bool = False,
          thresholds: ThresholdsConfig | None = None) -> timeseries.Panel:
    p = (timeseries.Panel().title(title).description(description).unit(unit)
         .thresholds(thresholds or steps((None, GREEN)))
         .line_width(2).fill_opacity(10 if not stacked else 60).span_nulls(True))
    if thresholds is not None:
        p = p.thresholds_style(GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED))
    if stacked:
        p = p.stacking(StackingConfig().mode(common.StackingMode.NORMAL))
    for t in targets:
        p = p.with_target(t)
    return p


def bars(title: str, expr: str, unit: str, thresholds: ThresholdsConfig, legend: str, description: str = "",
         lo: float | None = None, hi: float | None = None) -> bargauge.Panel:
    p = (bargauge.Panel().title(title).description(description).unit(unit).thresholds(thresholds)
         .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
         .display_mode(common.BarGaugeDisplayMode.BASIC).orientation(common.VizOrientation.HORIZONTAL)
         .show_unfilled(True).no_value("–")
         .with_target(query(expr, legend, instant=True)))
    if lo is not None:
        p = p.min(lo)
    if hi is not None:
        p = p.max(hi)
    return p


def merged_table(title: str, columns: list[tuple[str, str, str]], description: str = "",
                 hide: tuple[str, ...] = ("Time",)) -> table.Panel:
    """One row per label set: instant table queries merged; columns = (header, expr, unit)."""
    p = table.Panel().title(title).description(description).thresholds(steps((None, GREEN)))
    renames, units = {}, []
    for i, (header, expr, unit) in enumerate(columns):
        ref = chr(ord("A") + i)
        p = p.with_target(query(expr, ref=ref, instant=True, fmt_table=True))
        renames[f"Value #{ref}"] = header
        units.append((header, unit))
    p = p.with_transformation(DataTransformerConfig(id_val="merge", options={}))
    p = p.with_transformation(DataTransformerConfig(id_val="organize", options={
        "excludeByName": {h: True for h in hide}, "renameByName": renames, "indexByName": {}}))
    for header, unit in units:
        p = p.override_by_name(header, [DynamicConfigValue(id_val="unit", value=unit)])
    return p


def alert_list(panel_id: int, title: str, x: int, y: int, w: int, h: int) -> dict:
    """Grafana's alert-list panel (no SDK builder): firing/pending Prometheus alerts via the datasource."""
    return {
        "id": panel_id, "type": "alertlist", "title": title, "datasource": {"type": "prometheus", "uid": DATASOURCE_UID},
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "options": {
            "viewMode": "list", "groupMode": "default", "groupBy": [], "maxItems": 12, "sortOrder": 3,
            "dashboardAlerts": False, "alertName": "Deskpulse", "alertInstanceLabelFilter": "",
            "datasource": "Prometheus",
            "stateFilter": {"firing": True, "pending": True, "noData": False, "normal": False, "error": True},
        },
    }


def base(uid: str, title: str, *, refresh: str, time_from: str, tags: list[str], description: str) -> Dashboard:
    return (Dashboard(title).uid(uid).description(description).tags(["deskpulse", *tags]).refresh(refresh)
            .time(time_from, "now").timezone("browser").editable()
            .timepicker(TimePicker().refresh_intervals(["10s", "30s", "1m", "5m", "15m"]))
            .link(DashboardLink("deskpulse").type(DashboardLinkType.DASHBOARDS).tags(["deskpulse"]).as_dropdown(True)
                  .include_vars(False).keep_time(False).target_blank(False).icon("external link").tooltip("")))


def variable(name: str, label: str, expr: str, *, multi: bool) -> QueryVariable:
    v = (QueryVariable(name).label(label).datasource(DS).query(expr).refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
         .sort(1))
    if multi:
        v = v.multi(True).include_all(True).all_value(".*")
    return v


# --- the four dashboards --------------------------------------------------------------------------------------

def wallboard() -> dict:
    """Floor TV, 1920×1080 kiosk: 27 grid rows, no variables, no scrolling."""
    L = Layout()
    PQ = q.PER_QUEUE
    d = base("deskpulse-wallboard", "deskpulse: floor wallboard", refresh="10s", time_from="now/d",
             tags=["wallboard"], description="Floor TV (open with ?kiosk). Today = since local midnight.")
    top = [
        big_stat("Waiting", q.waiting(), "none", lower_is_better(T["waiting_warn"], T["waiting_alarm"]),
                 description="Open contacts without a first response, every queue"),
        big_stat("In queue", q.in_queue(), "none", lower_is_better(T["waiting_warn"] // 2, T["waiting_warn"]),
                 description="Live contacts (voice, chat) queued, not yet connected"),
        big_stat("Oldest in queue", q.oldest_queued_age(), "s",
                 lower_is_better(T["oldest_queued_seconds"] * 0.75, T["oldest_queued_seconds"]),
                 description=f"Longest current live-queue wait; target {T['oldest_queued_seconds']} s"),
        big_stat("Agents available", q.agents("available"), "none",
                 steps((None, RED), (1, ORANGE), (T["agents_available_min"], GREEN))),
        big_stat("Service level today", q.service_level("$__range"), "percentunit",
                 higher_is_better(T["service_level"], 0.05), decimals=0,
                 description=f"Answered within threshold / offered, today; target {T['service_level']:.0%}"),
        big_stat("CSAT today", q.csat("$__range"), "percentunit", higher_is_better(T["csat"], 0.05), decimals=0,
                 description=f"good / (good + bad), today; goal {T['csat']:.0%}"),
    ]
    for i, p in enumerate(top):
        d = d.with_panel(L.place(p, 4 * i, 0, 4, 7))
    per_queue = [
        big_stat("Waiting per queue", q.waiting(PQ), "none", lower_is_better(T["waiting_warn"], T["waiting_alarm"]),
                 per_series=True),
        big_stat("Oldest waiting per queue", q.oldest_waiting_age(PQ), "s",
                 lower_is_better(T["first_response_seconds_avg"], 2 * T["first_response_seconds_avg"]),
                 per_series=True, description="Age of the oldest contact still waiting for a first response"),
        big_stat("Service level today per queue", q.service_level("$__range", PQ), "percentunit",
                 higher_is_better(T["service_level"], 0.05), per_series=True, decimals=0),
        big_stat("Abandoned today per queue", q.abandonment("$__range", PQ), "percentunit",
                 lower_is_better(T["abandonment_rate"], 2 * T["abandonment_rate"]), per_series=True, decimals=0),
    ]
    for i, p in enumerate(per_queue):
        d = d.with_panel(L.place(p, 6 * i, 7, 6, 8))
    sla = [
        big_stat("SLA breaching now", q.sla_breaching(PQ), "none", steps((None, GREEN), (1, RED)), per_series=True,
                 description="Running SLA clocks past their deadline"),
        big_stat("SLA at risk", q.sla_at_risk(PQ), "none", steps((None, GREEN), (1, ORANGE)), per_series=True,
                 description="Running clocks past the at-risk share of their target"),
        big_stat("Agents by state", q.agents_by_state(), "none", steps((None, BLUE)), per_series=True,
                 legend="{{state}}"),
        big_stat("Agents vs forecast per queue", q.staffing_spare(PQ), "none", steps((None, RED), (0, GREEN)),
                 per_series=True, decimals=0,
                 description="Agents available or busy on the queue's platform minus the Erlang C need for its "
                             "service-level target over the last 30 minutes; below 0 (red) = short. Live queues "
                             "only; the platform's agents are shared by its queues (docs/kpis.md)"),
    ]
    for i, p in enumerate(sla):
        d = d.with_panel(L.place(p, 6 * i, 15, 6, 6))
    built = d.build()
    built.panels.append(alert_list(L.next_id, "Active SLA alerts", 0, 21, 24, 6))
    return built


def supervisor() -> dict:
    L = Layout()
    s = q.sel(platform="=~$platform", queue="=~$queue")
    sp = q.sel(platform="=~$platform")
    PQ = q.PER_QUEUE
    d = (base("deskpulse-supervisor", "deskpulse: supervisor", refresh="30s", time_from="now/d",
              tags=["supervisor"], description="Per-agent table and per-queue trends. Today = since local midnight.")
         .with_variable(variable("platform", "Platform", "label_values(deskpulse_contacts_open, platform)", multi=True))
         .with_variable(variable("queue", "Queue", 'label_values(deskpulse_contacts_open{platform=~"$platform"}, queue)',
                                 multi=True))
         .with_variable(variable("period", "Outlier period", "label_values(deskpulse_outlier_verdict, period)",
                                 multi=False))
         .with_variable(variable("category", "Category", "label_values(deskpulse_category_contacts_created_total, "
                                                         "category)", multi=True)))
    tiles = [
        big_stat("Waiting", q.waiting(s=s), "none", lower_is_better(T["waiting_warn"], T["waiting_alarm"])),
        big_stat("In queue", q.in_queue(s=s), "none", lower_is_better(T["waiting_warn"] // 2, T["waiting_warn"])),
        big_stat("Oldest waiting", q.oldest_waiting_age(s=s), "s",
                 lower_is_better(T["first_response_seconds_avg"], 2 * T["first_response_seconds_avg"])),
        big_stat("SLA breaching", q.sla_breaching(s=s), "none", steps((None, GREEN), (1, RED))),
        big_stat("SLA at risk", q.sla_at_risk(s=s), "none", steps((None, GREEN), (1, ORANGE))),
        big_stat("Service level 30 min", q.service_level("30m", s=s), "percentunit",
                 higher_is_better(T["service_level"], 0.05), decimals=0),
    ]
    for i, p in enumerate(tiles):
        d = d.with_panel(L.place(p, 4 * i, 0, 4, 5))
    agents = merged_table("Agents today", [
        ("State", q.agent_state(sp), "none"),
        ("In state for", q.agent_in_state_for(sp), "s"),
        ("Open now", q.agent_open(sp), "none"),
        ("Replies", q.agent_increase("replies", "$__range", sp), "none"),
        ("First responses", q.agent_increase("first_responses", "$__range", sp), "none"),
        ("Resolved", q.agent_increase("contacts_resolved", "$__range", sp), "none"),
        ("Handled (live)", q.agent_increase("contacts_handled", "$__range", sp), "none"),
        ("Complaints", q.agent_increase("complaints", "$__range", sp), "none"),
    ], description="One row per agent: current state and today's work, and the complaints beside it (a bad rating "
                   "received or a complaint-category contact resolved)", hide=("Time", "State"))
    agents = agents.override_by_name("state", [
        DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"}),
        DynamicConfigValue(id_val="mappings", value=[ValueMap(options={
            "available": ValueMappingResult(color=GREEN, index=0),
            "busy": ValueMappingResult(color=ORANGE, index=1),
            "away": ValueMappingResult(color="yellow", index=2),
            "offline": ValueMappingResult(color="gray", index=3)})])])
    d = d.with_panel(L.place(agents, 0, 5, 24, 11))
    rows = [
        trend("Contacts waiting per queue", [query(q.waiting(PQ, s), "{{platform}}/{{queue}}")], "none"),
        trend("Service level (30 min) per queue",
              [query(f"{q.SL_30M_BY_QUEUE}{{{s}}}", "{{platform}}/{{queue}}")], "percentunit",
              thresholds=higher_is_better(T["service_level"], 0.05)),
        trend("Contacts created per hour, by platform (channel)",
              [query(q.created_per_hour("$__rate_interval", q.PER_PLATFORM, s), "{{platform}}")], "none",
              description="Channel is not a metric label: each platform serves its own channels"),
        trend("Average first response per queue",
              [query(q.first_response_avg_rate("$__rate_interval", PQ, s), "{{platform}}/{{queue}}")], "s",
              thresholds=lower_is_better(T["first_response_seconds_avg"], 2 * T["first_response_seconds_avg"])),
        trend("Agents by state", [query(q.agents_by_state(sp), "{{state}}")], "none", stacked=True),
        trend("SLA clocks breaching per queue", [query(q.sla_breaching(PQ, s), "{{platform}}/{{queue}}")], "none",
              thresholds=steps((None, GREEN), (1, RED))),
    ]
    for i, p in enumerate(rows):
        d = d.with_panel(L.place(p, 12 * (i % 2), 16 + 8 * (i // 2), 12, 8))
    staffing = merged_table("Staffing forecast per queue (Erlang C, last 30 min)", [
        ("Offered per hour", q.staffing_offered_per_hour(PQ, s), "none"),
        ("AHT", q.staffing("average_handle_time_seconds", PQ, s), "s"),
        ("Agents needed", q.staffing("agents_needed", PQ, s), "none"),
        ("To schedule", q.staffing("agents_needed_scheduled", PQ, s), "none"),
        ("Available now", q.staffing("agents_available", PQ, s), "none"),
        ("Predicted SL", q.staffing("predicted_service_level", PQ, s), "percentunit"),
        ("Predicted ASA", q.staffing("predicted_answer_seconds", PQ, s), "s"),
        ("Occupancy", q.staffing("occupancy", PQ, s), "percentunit"),
    ], description="The API's staffing forecast: agents needed to meet each live queue's service-level target at "
                   "the rate and handle time of the last 30 minutes, and what the agents available or busy on its "
                   "platform now can be expected to deliver. Indicative: no abandonment, steady arrivals "
                   "(docs/kpis.md#staffing-forecast)")
    d = d.with_panel(L.place(staffing, 0, 40, 24, 8))
    d = d.with_panel(L.place(trend("Agents needed vs available per queue", [
        query(q.staffing("agents_needed", PQ, s), "{{platform}}/{{queue}} needed", ref="A"),
        query(q.staffing("agents_available", PQ, s), "{{platform}}/{{queue}} available", ref="B"),
    ], "none", description="Erlang C need over the last 30 minutes against the platform's agents available or busy"),
        0, 48, 24, 8))
    # Is it one agent or the process? (docs/kpis.md#outliers-one-agent-or-the-process)
    so = q.sel(platform="=~$platform", queue="=~$queue", period="$period")
    verdict = merged_table("One agent or the process? Verdict per queue", [
        ("Verdict", q.outlier_verdict(so), "none")],
        description="Per queue over the period: agent-level = an agent far above the queue's distribution "
                    "(modified z-score > 3.5, at least 10 resolved contacts); process-level = the whole queue "
                    "worsened with most agents, or a category worsened; none. Figures behind it: "
                    "/v1/queues/<platform>/<queue>/outliers")
    verdict = verdict.override_by_name("Verdict", [
        DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"}),
        DynamicConfigValue(id_val="mappings", value=[ValueMap(options={
            "0": ValueMappingResult(text="none", color=GREEN, index=0),
            "1": ValueMappingResult(text="agent-level", color=ORANGE, index=1),
            "2": ValueMappingResult(text="process-level", color=RED, index=2)})])])
    d = d.with_panel(L.place(verdict, 0, 56, 8, 9))
    d = d.with_panel(L.place(merged_table("Agent-level: agents flagged", [
        ("Modified z-score", q.outlier_agents(so), "none")],
        description="Agents far above their queue on complaint rate, reopen rate or first response time in the "
                    "period (score > 3.5); agents with few contacts are never judged"), 8, 56, 8, 9))
    d = d.with_panel(L.place(merged_table("Process-level: categories worsening", [
        ("Change", q.outlier_categories(so), "none")],
        description="Categories whose figure in the queue worsened against the previous period (complaint or "
                    "reopen rate in ratio points, response time in seconds)"), 16, 56, 8, 9))
    sc = q.sel(category="=~$category")
    d = d.with_panel(L.place(bars("Complaint rate per category today", q.complaint_rate(
        "$__range", " by (category) ", sc, prefix="deskpulse_category_"), "percentunit",
        lower_is_better(0.05, 0.10), "{{category}}", lo=0,
        description="Complaints (complaint category or bad rating) per resolved contact, all platforms"),
        0, 65, 12, 8))
    d = d.with_panel(L.place(bars("Complaint rate per queue today", q.complaint_rate("$__range", PQ, s), "percentunit",
                                  lower_is_better(0.05, 0.10), "{{platform}}/{{queue}}", lo=0,
                                  description="Complaints per resolved contact since local midnight"), 12, 65, 12, 8))
    return d.build()


def director() -> dict:
    L = Layout()
    PP, PQ = q.PER_PLATFORM, q.PER_QUEUE
    d = base("deskpulse-director", "deskpulse: operations director", refresh="1m", time_from="now-7d",
             tags=["director"], description="Every platform and team (queue) side by side, last 24 h against "
                                            "targets, and the weekly trend.")
    side = [
        bars("Service level by platform, 24 h", q.service_level("1d", PP), "percentunit",
             higher_is_better(T["service_level"], 0.05), "{{platform}}", lo=0, hi=1),
        bars("CSAT by platform, 24 h", q.csat("1d", PP), "percentunit", higher_is_better(T["csat"], 0.05),
             "{{platform}}", lo=0, hi=1),
        bars("Average first response by platform, 24 h", q.first_response_avg("1d", PP), "s",
             lower_is_better(T["first_response_seconds_avg"], 2 * T["first_response_seconds_avg"]), "{{platform}}",
             lo=0),
        bars("Service level by team, 24 h", q.service_level("1d", PQ), "percentunit",
             higher_is_better(T["service_level"], 0.05), "{{platform}}/{{queue}}", lo=0, hi=1),
        bars("CSAT by team, 24 h", q.csat("1d", PQ), "percentunit", higher_is_better(T["csat"], 0.05),
             "{{platform}}/{{queue}}", lo=0, hi=1),
        bars("First-response SLA met by team, 24 h", q.sla_compliance("first_response", "1d", PQ), "percentunit",
             higher_is_better(T["service_level"], 0.05), "{{platform}}/{{queue}}", lo=0, hi=1),
    ]
    for i, p in enumerate(side):
        d = d.with_panel(L.place(p, 8 * (i % 3), 8 * (i // 3), 8, 8))
    teams = merged_table("Every team against targets, 24 h", [
        ("Created", q.created("1d", PQ), "none"),
        ("Service level", q.service_level("1d", PQ), "percentunit"),
        ("Abandoned", q.abandonment("1d", PQ), "percentunit"),
        ("Avg first response", q.first_response_avg("1d", PQ), "s"),
        ("CSAT", q.csat("1d", PQ), "percentunit"),
        ("First-response SLA met", q.sla_compliance("first_response", "1d", PQ), "percentunit"),
    ])
    d = d.with_panel(L.place(teams, 0, 16, 24, 9))
    weekly = [
        trend("Service level per day, by platform", [query(q.service_level("1d", PP), "{{platform}}")
                                                      .interval("1h")], "percentunit",
              thresholds=higher_is_better(T["service_level"], 0.05)),
        trend("Contacts created per day, by platform", [query(q.created("1d", PP), "{{platform}}").interval("1h")],
              "none"),
        trend("CSAT per day, by platform", [query(q.csat("1d", PP), "{{platform}}").interval("1h")], "percentunit",
              thresholds=higher_is_better(T["csat"], 0.05)),
        trend("Average first response per day, by platform",
              [query(q.first_response_avg("1d", PP), "{{platform}}").interval("1h")], "s",
              thresholds=lower_is_better(T["first_response_seconds_avg"], 2 * T["first_response_seconds_avg"])),
    ]
    for i, p in enumerate(weekly):
        d = d.with_panel(L.place(p, 12 * (i % 2), 25 + 8 * (i // 2), 12, 8))
    return d.build()


def agent() -> dict:
    L = Layout()
    s = q.sel(platform="$platform", agent="$agent")
    d = (base("deskpulse-agent", "deskpulse: agent", refresh="30s", time_from="now/d", tags=["agent"],
              description="One agent's own figures; pick the agent above. Today = since local midnight.")
         .with_variable(variable("platform", "Platform", "label_values(deskpulse_agent_state, platform)", multi=False))
         .with_variable(variable("agent", "Agent", 'label_values(deskpulse_agent_state{platform="$platform"}, agent)',
                                 multi=False)))
    state = big_stat("State", q.agent_state(s), "none", steps((None, BLUE)), legend="{{state}}")
    state = state.text_mode(common.BigValueTextMode.NAME)
    tiles = [
        state,
        big_stat("In state for", q.agent_in_state_for(s), "s", steps((None, BLUE))),
        big_stat("Open now", q.agent_open(s), "none", steps((None, BLUE))),
        big_stat("First responses today", q.agent_increase("first_responses", "$__range", s), "none",
                 steps((None, BLUE))),
        big_stat("Replies today", q.agent_increase("replies", "$__range", s), "none", steps((None, BLUE))),
        big_stat("Resolved today", q.agent_increase("contacts_resolved", "$__range", s), "none", steps((None, BLUE))),
    ]
    for i, p in enumerate(tiles):
        d = d.with_panel(L.place(p, 4 * i, 0, 4, 6))
    d = d.with_panel(L.place(big_stat("Handled (live) today", q.agent_increase("contacts_handled", "$__range", s),
                                      "none", steps((None, BLUE))), 0, 6, 4, 9))
    d = d.with_panel(L.place(trend("Work per hour", [
        query(q.agent_rate_per_hour("replies", "$__rate_interval", s), "replies", ref="A"),
        query(q.agent_rate_per_hour("first_responses", "$__rate_interval", s), "first responses", ref="B"),
        query(q.agent_rate_per_hour("contacts_resolved", "$__rate_interval", s), "resolved", ref="C"),
    ], "none"), 4, 6, 20, 9))
    d = d.with_panel(L.place(trend("Open contacts", [query(q.agent_open(s), "open")], "none"), 0, 15, 24, 8))
    return d.build()


DASHBOARDS = {
    "deskpulse-wallboard.json": wallboard,
    "deskpulse-supervisor.json": supervisor,
    "deskpulse-director.json": director,
    "deskpulse-agent.json": agent,
}


def render() -> dict[Path, str]:
    """Every generated file: the dashboards and the Grafana alerting provisioning."""
    out = {OUT / name: JSONEncoder(sort_keys=True, indent=2).encode(build()) + "\n" for name, build in DASHBOARDS.items()}
    out[alerting.OUT] = alerting.render()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if grafana/dashboards/ is stale")
    args = parser.parse_args(argv)
    stale = []
    OUT.mkdir(exist_ok=True)
    for path, text in render().items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(OUT.parent.parent)}")
    if stale:
        print(f"stale: {', '.join(stale)}; run .venv/bin/python grafana/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
