/* deskpulse agent page (/agent/{platform}/{agent_id}): the agent's state now, workload by channel today and this
 * week beside the quality of the same contacts, against the team's goals and median, and 16 days of trend.
 * Data: /v1/agents/{agent}?window=today and the live stream of that one scope; /v1/agents/{agent}/teams;
 * /v1/days/{scope}. */
(function () {
  "use strict";
  var dp = window.deskpulse, el = dp.el, tile = dp.tile;
  var scope = document.body.dataset.scope; // agent/<platform>/<agent id>
  var key = dp.encodeScope(scope.slice("agent/".length));
  dp.contactsDrill("contacts", "v1/agents/" + key, ["open", "waiting", "at_risk", "breaching", "reopened", "bad_rating"],
    "open", null);
  var period = "week";
  var state = { body: null, receivedAt: 0, days: null };

  document.getElementById("title").textContent = "Agent " + scope.split("/").slice(2).join("/") +
    " · " + scope.split("/")[1];

  function secondsInState() {
    var agent = state.body && state.body.agent;
    if (!agent || agent.seconds_in_state === null) return null;
    return agent.seconds_in_state + (performance.now() - state.receivedAt) / 1000;
  }

  function showState() {
    var agent = (state.body && state.body.agent) || {};
    var badge = document.getElementById("state");
    badge.className = "state " + (agent.state || "");
    badge.dataset.state = agent.state || "";
    badge.textContent = (agent.raw_state || agent.state || "no presence yet") +
      (agent.state ? " · " + dp.duration(secondsInState()) : "");
  }

  function renderNow(body) {
    if (body.scope !== scope) return;
    if (body.name) {
      document.getElementById("title").textContent = "Agent " + body.name + " · " + scope.split("/")[1];
    }
    state.body = body;
    state.receivedAt = performance.now();
    var agent = body.agent || {};
    showState();
    document.getElementById("as-of").textContent = body.as_of ? "as of " + body.as_of.slice(0, 19).replace("T", " ") + " UTC" : "";
    var goals = body.goals || {};
    var sla = body.live.sla;
    dp.fill("now-tiles", [
      tile("Open contacts", dp.count(body.live.open), "assigned to you now"),
      tile("SLA clocks", dp.count(sla.running), sla.at_risk + " at risk · " + sla.breaching + " breaching",
        sla.breaching ? "missed" : (sla.at_risk ? "near" : null)),
      tile("Resolved today", dp.count(body.workload.resolved), body.workload.replies + " replies"),
      tile("CSAT today", dp.percent(body.csat.score), body.csat.rated + " rated" +
        (goals.csat ? " · goal " + goals.csat.goal.split(" ").slice(1).join(" ") : ""), dp.goalStatus(goals.csat)),
      tile("First response today", dp.duration(body.first_response.average_seconds), body.first_response.count +
        " answered", dp.goalStatus(goals.first_response_seconds_avg)),
      tile("Complaints today", dp.count(body.complaints.count), "rate " + dp.percent(body.complaints.rate),
        dp.goalStatus(goals.complaint_rate)),
    ]);
    renderWorkload();
  }

  function sumChannels(days) {
    var out = {};
    days.forEach(function (d) {
      Object.keys(d.workload.by_channel).forEach(function (ch) {
        var w = d.workload.by_channel[ch], t = out[ch] || (out[ch] = { replies: 0, answered: 0, handled: 0, resolved: 0 });
        Object.keys(t).forEach(function (k) { t[k] += w[k] || 0; });
      });
    });
    return out;
  }

  function renderWorkload() {
    if (!state.body) return;
    var today = state.body.workload.by_channel;
    var week = state.days ? sumChannels(state.days.slice(-7)) : {};
    var channels = Object.keys(Object.assign({}, week, today)).sort();
    var cols = ["replies", "answered", "handled", "resolved"];
    var head = el("tr", {}, ["Channel", "Period"].map(function (h) { return el("th", { text: h, scope: "col" }); })
      .concat(cols.map(function (c) {
        return el("th", { className: "num", scope: "col", text: c.charAt(0).toUpperCase() + c.slice(1) });
      })));
    var rows = [];
    channels.forEach(function (ch) {
      [["today", "Today", today[ch] || {}], ["week", "Last 7 days", week[ch] || {}]].forEach(function (p, i) {
        rows.push(el("tr", { "data-channel": ch, "data-period": p[0] }, [el("td", { text: i ? "" : ch }),
          el("td", { className: "muted", text: p[1] })].concat(cols.map(function (c) {
          return el("td", { className: "num", text: p[0] === "week" && !state.days ? "—" : dp.count(p[2][c] || 0) });
        }))));
      });
    });
    dp.fill("workload", rows.length ? [el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)])]
      : [el("p", { className: "empty", text: "No work recorded today or in the last 7 days." })]);
  }

  function renderTeams(body) {
    var FIG = dp.FIGURES;
    if (!body.items.length) {
      dp.fill("quality", [el("p", { className: "empty", text: "No contacts resolved or answered in a team over this period." })]);
      dp.fill("team-link", []);
      return;
    }
    dp.fill("team-link", [dp.pageLink("team", body.items[0].queue, "Team " + (body.items[0].name || body.items[0].id))]);
    dp.fill("quality", body.items.map(function (item) {
      var row = item.agent;
      var rows = dp.FIGURE_NAMES.map(function (name) {
        var status = row.status[name];
        return el("tr", { "data-figure": name }, [
          el("td", { text: FIG[name].label }),
          el("td", { className: "num" + (status ? " " + status : ""), "data-status": status || "none" },
            [FIG[name].format(row.quality[name]), status ? el("span", { className: "vs", text: dp.statusText(status) }) : null]),
          el("td", { className: "num", text: FIG[name].format(item.median[name]) }),
          el("td", { className: "num", text: item.goals[name] ? item.goals[name].split(" ").slice(1).join(" ") : "no goal" }),
          el("td", { className: "muted", text: dp.better(name, row.versus_team[name]) }),
        ]);
      });
      var v = row.volume;
      return el("div", { className: "team", "data-queue": item.queue }, [
        el("h3", {}, [dp.pageLink("team", item.queue, "Team " + (item.name || item.id)), " ",
          el("span", { className: "muted", text: "(" + item.platform + ", " + item.agents_in_team + " agents) · " +
            v.resolved + " resolved, " + v.first_responses + " first responses, " + v.replies + " replies" })]),
        el("table", {}, [el("thead", {}, [el("tr", {}, ["Figure", "You", "Team median", "Goal", "Versus the team"].map(
          function (h, i) { return el("th", { className: i && i < 4 ? "num" : null, text: h, scope: "col" }); }))]),
          el("tbody", {}, rows)]),
      ]);
    }));
  }

  function renderDays(body) {
    state.days = body.days;
    document.getElementById("days-zone").textContent = "(local days: " + body.timezone + ", from " + body.reset + ")";
    dp.dayChart(document.getElementById("chart-volume"), body.days, [
      { label: "Resolved", value: function (d) { return d.resolved; }, bars: true, unit: "n" },
      { label: "Replies", value: function (d) { return d.workload.replies; }, unit: "n" },
    ]);
    dp.dayChart(document.getElementById("chart-quality"), body.days, [
      { label: "CSAT", value: function (d) { return d.csat; }, unit: "%" },
      { label: "Complaint rate", value: function (d) { return d.complaint_rate; }, unit: "%" },
    ]);
    dp.dayChart(document.getElementById("chart-response"), body.days, [
      { label: "Average first response", value: function (d) { return d.first_response_average_seconds; }, unit: "s" },
    ]);
    renderWorkload();
  }

  function loadTeams() {
    return dp.api("v1/agents/" + key + "/teams?period=" + period).then(renderTeams)
      .catch(function (e) { dp.showError("quality", e); });
  }

  function load() {
    dp.api("v1/agents/" + key + "?window=today").then(renderNow).catch(function (e) {
      dp.setStatus("failed", e.message);
      dp.showError("now-tiles", e);
    });
    dp.api("v1/days/" + dp.encodeScope(scope)).then(renderDays).catch(function (e) { dp.showError("chart-volume", e); });
    loadTeams();
  }

  dp.periodSwitch("period", period, function (chosen) {
    period = chosen;
    loadTeams();
  });
  load();
  dp.stream([scope], "today", renderNow);
  setInterval(showState, 1000); // the time in state runs on
  // the period figures are re-read every minute
  setInterval(function () {
    loadTeams();
    dp.api("v1/days/" + dp.encodeScope(scope)).then(renderDays).catch(function () {});
  }, 60000);
})();
