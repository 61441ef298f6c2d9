/* deskpulse team page (/team/{platform}/{queue_id}): the queue now (waiting, SLA clocks, staffing against the
 * Erlang C forecast), its goals over today or 7 days against the period before, the outlier judgement (one agent
 * or the process), every agent side by side (sortable, each quality figure against the goal and the team's
 * median), who needs training on what (each agent per category, the far-worse cells flagged), the issue
 * categories and 16 days of trend.
 * Data: /v1/queues/{queue}?window=today and the live stream of the queue and its agents;
 * /v1/queues/{queue}/team, /v1/queues/{queue}/outliers, /v1/queues/{queue}/training, /v1/days/{scope}. */
(function () {
  "use strict";
  var dp = window.deskpulse, el = dp.el, tile = dp.tile, FIG = dp.FIGURES;
  var scope = document.body.dataset.scope; // queue/<platform>/<queue id>
  var platform = scope.split("/")[1];
  var queueId = scope.split("/").slice(2).join("/");
  var key = dp.encodeScope(scope.slice("queue/".length));
  var agentNames = {}; // agent id -> display name, from the team body
  // The contacts behind the figures; the Waiting and SLA clocks tiles lead to them.
  var drill = dp.contactsDrill("contacts", "v1/queues/" + key,
    ["waiting", "at_risk", "breaching", "unassigned", "open", "reopened", "bad_rating", "complaint"], "waiting", agentNames);
  var period = "week";
  var states = {}; // agent scope -> the agent's body.agent, from the stream
  var source = null;
  var streamed = "";

  document.getElementById("title").textContent = "Team " + queueId + " · " + platform;
  document.getElementById("floor-link").href = dp.root + "?platform=" + encodeURIComponent(platform) +
    "&queue=" + encodeURIComponent(queueId);

  function renderQueue(body) {
    if (body.kind === "agent") {
      states[body.scope] = body.agent;
      var cell = document.querySelector('tr[data-row="' + CSS.escape(body.scope) + '"] td[data-col="state"]');
      if (cell) cell.replaceWith(stateCell({ scope: body.scope, state: body.agent.state }));
      return;
    }
    if (body.scope !== scope) return;
    if (body.name) document.getElementById("title").textContent = "Team " + body.name + " · " + platform;
    var live = body.live, sla = live.sla, goals = body.goals || {}, staff = body.staffing || {};
    document.getElementById("as-of").textContent = body.as_of ? "as of " + body.as_of.slice(0, 19).replace("T", " ") + " UTC" : "";
    var short = staff.agents_short;
    dp.fill("now-tiles", [
      tile("Waiting", dp.count(live.waiting), live.open + " open · " + live.unassigned + " unassigned"),
      tile("Oldest waiting", dp.duration(live.oldest_waiting_age_seconds), "since created"),
      tile("SLA clocks", dp.count(sla.running), sla.at_risk + " at risk · " + sla.breaching + " breaching",
        sla.breaching ? "missed" : (sla.at_risk ? "near" : null)),
      tile("Agents needed", staff.agents_needed === null || staff.agents_needed === undefined ? "—" : String(staff.agents_needed),
        (staff.agents_available === null || staff.agents_available === undefined ? "no presence" : staff.agents_available + " available") +
        (staff.reason ? " · " + staff.reason.replace(/_/g, " ") : ""),
        short === null || short === undefined ? null : (short > 0 ? "missed" : "met")),
      tile("Service level today", dp.percent(body.service_level.rate), body.service_level.offered + " offered",
        dp.goalStatus(goals.service_level)),
      tile("CSAT today", dp.percent(body.csat.score), body.csat.rated + " rated", dp.goalStatus(goals.csat)),
      tile("Resolved today", dp.count(body.contacts.resolved), body.contacts.created + " created"),
    ]);
    [["Waiting", "waiting"], ["Oldest waiting", "waiting"], ["SLA clocks", sla.breaching ? "breaching" : "at_risk"]].forEach(function (t) {
      var node = document.querySelector('#now-tiles .tile[data-kpi="' + t[0] + '"]');
      node.classList.add("drill");
      node.setAttribute("role", "button");
      node.setAttribute("tabindex", "0");
      node.title = "the contacts behind it";
      node.addEventListener("click", function () { drill(t[1]); });
      node.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); drill(t[1]); } });
    });
  }

  function stateCell(row) {
    var current = states[row.scope] || { state: row.state };
    var s = current && current.state;
    return el("td", { "data-col": "state" }, [el("span", { className: "state " + (s || ""), text: s || "—" })]);
  }

  function numCell(v) { return el("td", { className: "num", text: dp.count(v) }); }

  function renderGoals(body) {
    document.getElementById("period-label").textContent = (period === "week" ? "last 7 days" : "today") +
      " (" + body.timezone + "), against the period before";
    var rows = dp.FIGURE_NAMES.map(function (name) {
      var now = body.queue.quality[name], before = body.previous.quality[name], status = body.queue.status[name];
      return el("tr", { "data-figure": name }, [
        el("td", { text: FIG[name].label }),
        el("td", { className: "num" + (status ? " " + status : ""), "data-status": status || "none" },
          [FIG[name].format(now), status ? el("span", { className: "vs", text: dp.statusText(status) }) : null]),
        el("td", { className: "num", text: FIG[name].format(before) }),
        el("td", { className: "muted", text: dp.change(name, now, before) }),
        el("td", { className: "num", text: body.goals[name] ? body.goals[name].split(" ").slice(1).join(" ") : "no goal" }),
      ]);
    });
    var v = body.queue.volume;
    dp.fill("goals", [
      body.period_goals.length ? el("ul", { className: "findings", id: "period-goals" }, body.period_goals.map(dp.periodGoalLine)) : null,
      el("p", { className: "muted", text: v.resolved + " resolved, " + v.first_responses + " first responses, " +
        v.replies + " replies · " + body.missed + " goal(s) missed, " + body.near + " met narrowly" }),
      el("table", {}, [el("thead", {}, [el("tr", {}, ["Figure", "This period", "Period before", "Change", "Goal"].map(
        function (h, i) { return el("th", { className: i === 1 || i === 2 || i === 4 ? "num" : null, text: h, scope: "col" }); }))]),
        el("tbody", {}, rows)]),
    ]);
  }

  function renderAgents(body) {
    body.agents.forEach(function (r) { agentNames[r.agent] = r.name || r.agent; });
    if (!body.agents.length) {
      dp.fill("agents", [el("p", { className: "empty", text: "No agent resolved or answered a contact of this queue in this period." })]);
      return;
    }
    var columns = [
      { label: "Agent", key: function (r) { return r.agent; },
        cell: function (r) { return el("td", { "data-col": "agent", title: r.agent }, [dp.pageLink("agent", r.scope, r.name || r.agent)]); } },
      { label: "State", key: function (r) { return (states[r.scope] || r).state; }, cell: stateCell },
      { label: "Open now", num: true, key: function (r) { return r.open; }, cell: function (r) { return numCell(r.open); } },
      { label: "Resolved", num: true, key: function (r) { return r.volume.resolved; }, cell: function (r) { return numCell(r.volume.resolved); } },
      { label: "First responses", num: true, key: function (r) { return r.volume.first_responses; }, cell: function (r) { return numCell(r.volume.first_responses); } },
      { label: "Replies", num: true, key: function (r) { return r.volume.replies; }, cell: function (r) { return numCell(r.volume.replies); } },
    ].concat(dp.FIGURE_NAMES.map(function (name) {
      return { label: FIG[name].label, num: true, title: body.goals[name] ? "goal: " + body.goals[name] : "no goal",
        key: function (r) { return r.quality[name]; }, cell: function (r) { return dp.qualityCell(name, r); } };
    }));
    var median = { agent: "team median", scope: "", quality: body.median, status: null, versus_team: null };
    var table = dp.sortableTable(columns, body.agents, { index: 3, dir: -1 }, function (r) { return r.scope; });
    var foot = el("tfoot", {}, [el("tr", {}, [el("td", { text: "Team median", className: "muted" }), el("td"), el("td"),
      el("td"), el("td"), el("td")].concat(dp.FIGURE_NAMES.map(function (name) {
      return el("td", { className: "num muted", text: FIG[name].format(median.quality[name]) });
    })))]);
    table.appendChild(foot);
    dp.fill("agents", [table]);
    subscribe(body.agents.map(function (r) { return r.scope; }));
  }

  function renderCategories(body) {
    if (!body.categories.length) {
      dp.fill("categories", [el("p", { className: "empty", text: "No categorised contacts in this period (categories: docs/kpis.md)." })]);
      return;
    }
    var columns = [
      { label: "Category", key: function (r) { return r.category; }, cell: function (r) { return el("td", { text: r.category }); } },
      { label: "Resolved", num: true, key: function (r) { return r.volume.resolved; }, cell: function (r) { return numCell(r.volume.resolved); } },
      { label: "Complaints", num: true, key: function (r) { return r.quality.complaints; }, cell: function (r) { return numCell(r.quality.complaints); } },
    ].concat(dp.FIGURE_NAMES.map(function (name) {
      return { label: FIG[name].label, num: true, key: function (r) { return r.quality[name]; },
        cell: function (r) { return dp.qualityCell(name, r); } };
    }));
    dp.fill("categories", [dp.sortableTable(columns, body.categories, { index: 1, dir: -1 }, function (r) { return r.category; })]);
  }

  var METRIC_LABELS = { complaint_rate: "Complaint rate", reopen_rate: "Reopen rate", response_time_seconds: "First response" };

  function renderVerdict(body) {
    var items = Object.keys(body.metrics).map(function (name) {
      var m = body.metrics[name], q = m.queue;
      var format = name === "response_time_seconds" ? dp.duration : dp.percent;
      var findings = [];
      m.agents.filter(function (a) { return a.outlier; }).forEach(function (a) {
        findings.push(el("li", {}, [dp.pageLink("agent", a.scope, a.agent), " at " + format(a.value) + " (score " +
          a.score + ", " + a.volume + " contacts) against a team median of " + format(m.distribution.median)]));
      });
      if (m.queue_shift.shifted) findings.push(el("li", { text: "most agents worsened together: " + m.queue_shift.agents_worse.join(", ") }));
      m.categories_worse.forEach(function (c) {
        findings.push(el("li", { text: "category " + c.category + " worsened: " + format(c.previous) + " → " + format(c.value) }));
      });
      return el("div", { "data-metric": name }, [
        el("p", {}, [el("b", { text: METRIC_LABELS[name] || name }), ": ",
          el("span", { className: "verdict " + m.verdict, text: m.verdict === "none" ? "no finding" : m.verdict }),
          el("span", { className: "muted", text: " · team " + format(q.value) + " (before " + format(q.previous) + ")" +
            (q.worse ? ", worse" : "") })]),
        findings.length ? el("ul", { className: "findings" }, findings) : null,
      ]);
    });
    dp.fill("verdict", [el("p", {}, ["Overall: ", el("span", { className: "verdict " + body.verdict,
      text: body.verdict === "none" ? "no finding" : body.verdict })])].concat(items));
  }

  var TRAINING_METRICS = { complaint_rate: ["complaint rate", dp.percent], reopen_rate: ["reopen rate", dp.percent],
    response_time_seconds: ["first response", dp.duration] };

  function renderTraining(body) {
    if (!body.categories.length) {
      dp.fill("training", [el("p", { className: "empty", text: "No categorised contacts in this period (categories: docs/kpis.md)." })]);
      return;
    }
    var agents = [], names = {};
    body.categories.forEach(function (c) {
      c.agents.forEach(function (r) {
        if (agents.indexOf(r.agent) < 0) agents.push(r.agent);
        names[r.agent] = r.name || r.agent;
      });
    });
    var flagged = body.flagged.map(function (f) {
      var m = TRAINING_METRICS[f.metric];
      return el("li", { "data-agent": f.agent, "data-category": f.category, "data-metric": f.metric }, ["⚑ ",
        dp.pageLink("agent", "agent/" + platform + "/" + f.agent, names[f.agent] || f.agent), " in ", el("b", { text: f.category }),
        ": " + m[0] + " " + m[1](f.value) + " against the team's " + m[1](f.team) + " (median of its agents " +
        m[1](f.median) + ", " + f.volume + " contacts, score " + f.score + ")"]);
    });
    agents.sort();
    var head = el("tr", {}, [el("th", { text: "Agent", scope: "col" })].concat(body.categories.map(function (c) {
      return el("th", { className: "num", scope: "col", text: c.category,
        title: "team: " + c.team.volume.resolved + " resolved, complaint rate " + dp.percent(c.team.quality.complaint_rate) });
    })));
    var rows = agents.map(function (agent) {
      return el("tr", { "data-row": "agent/" + platform + "/" + agent }, [el("td", { title: agent }, [dp.pageLink("agent", "agent/" + platform + "/" + agent, names[agent])])]
        .concat(body.categories.map(function (c) {
          var r = c.agents.filter(function (x) { return x.agent === agent; })[0];
          if (!r) return el("td", { className: "num muted", text: "—" });
          var flags = Object.keys(r.judged).filter(function (m) { return r.judged[m].outlier; }).sort();
          var td = el("td", { className: "num" + (flags.length ? " missed" : ""), "data-category": c.category,
            "data-flagged": flags.join(" ") || "none" }, [(flags.length ? "⚑ " : "") + r.volume.resolved + " resolved"]);
          td.appendChild(el("span", { className: "vs", text: "complaints " + dp.percent(r.quality.complaint_rate) +
            " · reopen " + dp.percent(r.quality.reopen_rate) }));
          flags.forEach(function (m) { td.appendChild(el("span", { className: "vs", text: "far worse: " + TRAINING_METRICS[m][0] })); });
          return td;
        })));
    });
    dp.fill("training", [
      flagged.length ? el("ul", { className: "findings" }, flagged)
        : el("p", { className: "muted", text: "No agent is far worse than the others in any category (rule: " +
          body.rule.min_volume + " contacts, " + body.rule.min_agents + " agents, score above " + body.rule.threshold + ")." }),
      el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]),
    ]);
  }

  function renderDays(body) {
    document.getElementById("days-zone").textContent = "(local days: " + body.timezone + ", from " + body.reset + ")";
    dp.dayChart(document.getElementById("chart-volume"), body.days, [
      { label: "Created", value: function (d) { return d.created; }, bars: true, unit: "n" },
      { label: "Resolved", value: function (d) { return d.resolved; }, unit: "n" },
    ]);
    dp.dayChart(document.getElementById("chart-quality"), body.days, [
      { label: "CSAT", value: function (d) { return d.csat; }, unit: "%" },
      { label: "Complaint rate", value: function (d) { return d.complaint_rate; }, unit: "%" },
      { label: "Reopen rate", value: function (d) { return d.reopen_rate; }, unit: "%" },
    ]);
    dp.dayChart(document.getElementById("chart-response"), body.days, [
      { label: "Average first response", value: function (d) { return d.first_response_average_seconds; }, unit: "s" },
    ]);
  }

  // The queue and the agents shown, live: one stream, reopened when the agents shown change (≤ 200 scopes).
  function subscribe(agentScopes) {
    var scopes = [scope].concat(agentScopes.slice(0, 199));
    var wanted = scopes.join(" ");
    if (wanted === streamed) return;
    if (source) source.close();
    streamed = wanted;
    source = dp.stream(scopes, "today", renderQueue);
  }

  function loadPeriod() {
    dp.api("v1/queues/" + key + "/team?period=" + period).then(function (body) {
      renderGoals(body);
      renderAgents(body);
      renderCategories(body);
    }).catch(function (e) { dp.showError("agents", e); });
    dp.api("v1/queues/" + key + "/outliers?period=" + period).then(renderVerdict)
      .catch(function (e) { dp.showError("verdict", e); });
    dp.api("v1/queues/" + key + "/training?period=" + period).then(renderTraining)
      .catch(function (e) { dp.showError("training", e); });
  }

  dp.periodSwitch("period", period, function (chosen) {
    period = chosen;
    loadPeriod();
  });
  dp.api("v1/queues/" + key + "?window=today").then(renderQueue).catch(function (e) {
    dp.setStatus("failed", e.message);
    dp.showError("now-tiles", e);
  });
  dp.api("v1/days/" + dp.encodeScope(scope)).then(renderDays).catch(function (e) { dp.showError("chart-volume", e); });
  loadPeriod();
  subscribe([]);
  setInterval(loadPeriod, 60000);
  setInterval(function () { dp.api("v1/days/" + dp.encodeScope(scope)).then(renderDays).catch(function () {}); }, 300000);
})();
