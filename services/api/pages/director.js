/* deskpulse operations director page (/director): every platform and team side by side against the goals, today
 * and week over week, the worst teams first, where the process (not a person) fails, and 16 days of trend.
 * Data: /v1/summary?window=today and the live stream of `all` and every platform; /v1/platforms/{platform};
 * /v1/teams; /v1/outliers; /v1/days/{scope}. */
(function () {
  "use strict";
  var dp = window.deskpulse, el = dp.el, tile = dp.tile, FIG = dp.FIGURES;
  var period = "week";
  var platforms = {}; // platform -> its body (window today), live
  var platformDays = {}; // platform -> its /v1/days body

  function renderNow(body) {
    if (body.kind === "platform") {
      platforms[body.platform] = body;
      renderPlatforms();
      return;
    }
    if (body.scope !== "all") return;
    var live = body.live, sla = live.sla, goals = body.goals || {};
    document.getElementById("as-of").textContent = body.as_of ? "as of " + body.as_of.slice(0, 19).replace("T", " ") + " UTC" : "";
    dp.fill("now-tiles", [
      tile("Created today", dp.count(body.contacts.created), body.contacts.resolved + " resolved"),
      tile("Waiting now", dp.count(live.waiting), live.open + " open"),
      tile("SLA clocks", dp.count(sla.running), sla.at_risk + " at risk · " + sla.breaching + " breaching",
        sla.breaching ? "missed" : (sla.at_risk ? "near" : null)),
      tile("CSAT today", dp.percent(body.csat.score), body.csat.rated + " rated", dp.goalStatus(goals.csat)),
      tile("First response today", dp.duration(body.first_response.average_seconds), body.first_response.count + " answered",
        dp.goalStatus(goals.first_response_seconds_avg)),
      tile("Complaint rate today", dp.percent(body.complaints.rate), body.complaints.count + " complaints",
        dp.goalStatus(goals.complaint_rate)),
    ]);
  }

  function numCell(v) { return el("td", { className: "num", text: dp.count(v) }); }

  // A figure of a period with the change from the period before, and its status when it has one.
  function periodCell(name, now, before, status) {
    var td = el("td", { className: "num" + (status ? " " + status : ""), "data-figure": name, "data-status": status || "none" },
      [FIG[name].format(now)]);
    if (status) td.appendChild(el("span", { className: "vs", text: dp.statusText(status) }));
    var change = dp.change(name, now, before);
    if (change) td.appendChild(el("span", { className: "vs", text: change }));
    return td;
  }

  function renderPlatforms() {
    var names = Object.keys(platforms).sort();
    if (!names.length) {
      dp.fill("platforms", [el("p", { className: "empty", text: "No platform has sent figures yet." })]);
      return;
    }
    var WEEK = ["csat", "first_response_average_seconds", "one_touch_rate", "reopen_rate", "complaint_rate"];
    var columns = [
      { label: "Platform", key: function (b) { return b.platform; },
        cell: function (b) { return el("td", {}, [el("a", { href: dp.root + "?platform=" + encodeURIComponent(b.platform), text: b.platform })]); } },
      { label: "Waiting now", num: true, key: function (b) { return b.live.waiting; }, cell: function (b) { return numCell(b.live.waiting); } },
      { label: "SLA breaching", num: true, key: function (b) { return b.live.sla.breaching; }, cell: function (b) { return numCell(b.live.sla.breaching); } },
      { label: "Resolved today", num: true, key: function (b) { return b.contacts.resolved; }, cell: function (b) { return numCell(b.contacts.resolved); } },
      { label: "CSAT today", num: true, key: function (b) { return b.csat.score; },
        cell: function (b) { return el("td", { className: "num", text: dp.percent(b.csat.score) }); } },
      { label: "Resolved 7 days", num: true, key: function (b) { return b.trend.week.resolved; },
        cell: function (b) { return numCell(b.trend.week.resolved); } },
    ].concat(WEEK.map(function (name) {
      return { label: FIG[name].label + " 7 days", num: true, key: function (b) { return b.trend.week[name]; },
        cell: function (b) { return periodCell(name, b.trend.week[name], b.trend.week.previous[name], null); } };
    }));
    dp.fill("platforms", [dp.sortableTable(columns, names.map(function (n) { return platforms[n]; }), null, function (b) { return b.scope; })]);
  }

  var PERIOD_ORDER = ["missed", "out_of_reach", "at_risk", "no_data", "not_started", "on_track", "secured", "met"];

  function worstPeriodGoal(r) {
    var goals = (r.period_goals || []).slice().sort(function (a, b) {
      return PERIOD_ORDER.indexOf(a.status) - PERIOD_ORDER.indexOf(b.status);
    });
    return goals[0] || null;
  }

  function renderTeams(body) {
    document.getElementById("period-label").textContent = (period === "week" ? "last 7 days" : "today") +
      ", each queue's own local days and goals; change against the period before" +
      (body.goals_loaded_at ? " · goals as read " + body.goals_loaded_at.slice(0, 16).replace("T", " ") + " UTC" : "");
    if (!body.items.length) {
      dp.fill("teams", [el("p", { className: "empty", text: "No queue has figures yet." })]);
      return;
    }
    body.items.forEach(function (item, i) { item.rank = i + 1; });
    var columns = [
      { label: "#", num: true, title: "worst first: most goals missed, then met narrowly, then complaint rate",
        key: function (r) { return r.rank; }, cell: function (r) { return numCell(r.rank); } },
      { label: "Team", key: function (r) { return r.id; },
        cell: function (r) { return el("td", { title: r.id }, [dp.pageLink("team", r.scope, r.name || r.id)]); } },
      { label: "Platform", key: function (r) { return r.platform; }, cell: function (r) { return el("td", { text: r.platform }); } },
      { label: "Goals missed", num: true, key: function (r) { return r.missed; },
        cell: function (r) {
          return el("td", { className: "num" + (r.missed ? " missed" : ""), text: r.missed + (r.near ? " (+" + r.near + " near)" : "") });
        } },
      { label: "Period goals", title: "goals over a period (period: in the SLA config): the worst first",
        key: function (r) { return worstPeriodGoal(r) ? PERIOD_ORDER.indexOf(worstPeriodGoal(r).status) : null; },
        cell: function (r) {
          var g = worstPeriodGoal(r);
          if (!g) return el("td", { className: "muted", text: "—" });
          var s = dp.PERIOD_STATUS[g.status] || [g.status, ""];
          return el("td", { className: s[1], "data-period-status": g.status, title: g.goal },
            [s[0] + (r.period_goals.length > 1 ? " (" + r.period_goals.length + ")" : "")]);
        } },
      { label: "Resolved", num: true, key: function (r) { return r.queue.volume.resolved; },
        cell: function (r) { return numCell(r.queue.volume.resolved); } },
    ].concat(dp.FIGURE_NAMES.map(function (name) {
      return { label: FIG[name].label, num: true, key: function (r) { return r.queue.quality[name]; },
        cell: function (r) { return periodCell(name, r.queue.quality[name], r.previous.quality[name], r.queue.status[name]); } };
    }));
    dp.fill("teams", [dp.sortableTable(columns, body.items, { index: 0, dir: 1 }, function (r) { return r.scope; })]);
  }

  var METRIC_LABELS = { complaint_rate: "complaint rate", reopen_rate: "reopen rate", response_time_seconds: "first response" };

  function renderFindings(body) {
    var process = body.items.filter(function (i) { return i.verdict === "process-level"; });
    if (!process.length) {
      dp.fill("findings", [el("p", { className: "empty", text: "No process-level finding in this period." })]);
      return;
    }
    dp.fill("findings", [el("ul", { className: "findings" }, process.map(function (item) {
      var parts = [];
      Object.keys(item.metrics).forEach(function (name) {
        var m = item.metrics[name];
        if (m.verdict !== "process-level") return;
        var why = [];
        if (m.queue_shift) why.push("most agents worsened together");
        if (m.categories_worse.length) why.push("categories worse: " + m.categories_worse.join(", "));
        parts.push((METRIC_LABELS[name] || name) + (why.length ? " (" + why.join("; ") + ")" : ""));
      });
      return el("li", { "data-queue": item.scope }, [dp.pageLink("team", item.scope, item.id),
        el("span", { className: "muted", text: " (" + item.platform + "): " }), parts.join(" · ")]);
    }))]);
  }

  function renderCharts() {
    var names = Object.keys(platformDays).sort();
    if (!names.length) return;
    var days = platformDays[names[0]].days;
    dp.dayChart(document.getElementById("chart-csat"), days, names.map(function (n) {
      var own = platformDays[n].days;
      return { label: n, value: function (d, i) { return own[i] ? own[i].csat : null; }, unit: "%" };
    }));
    dp.dayChart(document.getElementById("chart-complaints"), days, names.map(function (n) {
      var own = platformDays[n].days;
      return { label: n, value: function (d, i) { return own[i] ? own[i].complaint_rate : null; }, unit: "%" };
    }));
  }

  document.getElementById("export-attainment").addEventListener("click", function () {
    dp.download("v1/export/attainment.csv?period=" + period, "attainment-" + period + ".csv")
      .catch(function (e) { dp.showError("teams", e); });
  });

  function loadPeriod() {
    dp.api("v1/teams?period=" + period).then(renderTeams).catch(function (e) { dp.showError("teams", e); });
    dp.api("v1/outliers?period=" + period).then(renderFindings).catch(function (e) { dp.showError("findings", e); });
  }

  function loadDays() {
    dp.api("v1/days/all").then(function (body) {
      document.getElementById("days-zone").textContent = "(local days: " + body.timezone + ", from " + body.reset + ")";
      dp.dayChart(document.getElementById("chart-volume"), body.days, [
        { label: "Created", value: function (d) { return d.created; }, bars: true, unit: "n" },
        { label: "Resolved", value: function (d) { return d.resolved; }, unit: "n" },
      ]);
    }).catch(function (e) { dp.showError("chart-volume", e); });
    Object.keys(platforms).forEach(function (name) {
      dp.api("v1/days/platform/" + encodeURIComponent(name)).then(function (body) {
        platformDays[name] = body;
        renderCharts();
      }).catch(function () {});
    });
  }

  dp.periodSwitch("period", period, function (chosen) {
    period = chosen;
    loadPeriod();
  });
  dp.api("v1/summary?window=today").then(renderNow).catch(function (e) {
    dp.setStatus("failed", e.message);
    dp.showError("now-tiles", e);
  });
  loadPeriod();
  var first = true;
  dp.stream(["all", "platform/"], "today", function (body) {
    renderNow(body);
    if (first && body.kind === "platform") {
      first = false;
      setTimeout(loadDays, 200); // once the snapshot has named the platforms
    }
  });
  setInterval(loadPeriod, 60000);
  setInterval(loadDays, 300000);
})();
