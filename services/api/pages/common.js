/* deskpulse role pages: what the agent, team and director pages share. Plain JS, no build step, no network
 * beyond the API that serves them (an offline floor network works). Charts: uPlot, served from vendor/uplot.
 *
 * The server puts the page's subject in <body data-scope> and the way back to the API's root in <body data-root>
 * (relative, so a path prefix in front of the API works). With DESKPULSE_API_TOKENS set, open a page once with
 * ?token=<token>: the token moves to sessionStorage (this tab and the pages it opens) and out of the address bar,
 * so it never lands in history, logs or a Referer.
 */
(function () {
  "use strict";

  var root = document.body.dataset.root || "";
  var TOKEN_KEY = "deskpulse.token";

  (function keepToken() {
    var url = new URL(window.location.href);
    var given = url.searchParams.get("token") || url.searchParams.get("access_token");
    if (!given) return;
    try { sessionStorage.setItem(TOKEN_KEY, given); } catch (e) { /* storage off: this load only */ }
    window.__deskpulseToken = given;
    url.searchParams.delete("token");
    url.searchParams.delete("access_token");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  })();

  function token() {
    if (window.__deskpulseToken) return window.__deskpulseToken;
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  // ---- the API -----------------------------------------------------------------------------------------

  function api(path) {
    var headers = { Accept: "application/json" };
    var t = token();
    if (t) headers.Authorization = "Bearer " + t;
    return fetch(root + path, { headers: headers }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          var detail = body && body.detail;
          detail = typeof detail === "string" ? detail : JSON.stringify(detail);
          if (response.status === 401 || response.status === 403) accessNotice(response.status, detail);
          throw new Error(response.status + ": " + detail);
        }
        return body;
      });
    });
  }

  // 401: ask for a token (kept in this tab's sessionStorage, never in the URL); 403: say what the token cannot see.
  function accessNotice(status, detail) {
    var box = document.getElementById("access-notice");
    if (box && box.dataset.status === String(status)) return;
    if (!box) {
      box = el("div", { id: "access-notice", className: "access-notice", role: "alert" });
      document.body.insertBefore(box, document.body.firstChild);
    }
    box.dataset.status = String(status);
    if (status === 403) {
      box.replaceChildren(el("p", { text: "Not in this token's reach: " + detail }));
      return;
    }
    var input = el("input", { type: "password", autocomplete: "off", "aria-label": "API token", placeholder: "token" });
    var form = el("form", {}, [input, el("button", { type: "submit", text: "Open" })]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var given = input.value.trim();
      if (!given) return;
      try { sessionStorage.setItem(TOKEN_KEY, given); } catch (err) { /* storage off: this load only */ }
      window.__deskpulseToken = given;
      window.location.reload();
    });
    box.replaceChildren(el("p", { text: "This page needs a token (" + detail + "). It stays in this tab only." }), form);
  }

  // A file from the API (a CSV export), fetched with the token (a plain link could not send it) and saved.
  function download(path, filename) {
    var headers = {};
    var t = token();
    if (t) headers.Authorization = "Bearer " + t;
    return fetch(root + path, { headers: headers }).then(function (response) {
      if (!response.ok) {
        return response.json().then(function (body) {
          if (response.status === 401 || response.status === 403) accessNotice(response.status, body.detail);
          throw new Error(response.status + ": " + body.detail);
        });
      }
      return response.blob().then(function (blob) {
        var link = el("a", { href: URL.createObjectURL(blob), download: filename });
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
      });
    });
  }

  function encodeScope(scope) {
    return scope.split("/").map(encodeURIComponent).join("/");
  }

  // The live stream of a few scopes: onBody(body) for each scope of the snapshot and each update.
  function stream(scopes, windowName, onBody) {
    var q = scopes.map(function (s) { return "scope=" + encodeURIComponent(s); });
    q.push("window=" + encodeURIComponent(windowName));
    var t = token();
    if (t) q.push(new URLSearchParams({ access_token: t }).toString());
    var source = new EventSource(root + "v1/stream?" + q.join("&"));
    source.addEventListener("snapshot", function (e) {
      JSON.parse(e.data).scopes.forEach(onBody);
      setStatus("live", "Live");
    });
    source.addEventListener("update", function (e) {
      onBody(JSON.parse(e.data));
      setStatus("live", "Live");
    });
    source.onerror = function () { setStatus("stale", "Reconnecting…"); };
    return source;
  }

  function setStatus(kind, text) {
    document.body.classList.remove("live", "stale", "failed");
    document.body.classList.add(kind);
    var el = document.getElementById("status-text");
    if (el) el.textContent = text;
  }

  // ---- formatting --------------------------------------------------------------------------------------

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
    var s = Math.max(0, Math.round(seconds));
    if (s >= 86400) return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return h ? h + ":" + pad(m) + ":" + pad(r) : m + ":" + pad(r);
  }

  function percent(rate, digits) {
    if (rate === null || rate === undefined || !isFinite(rate)) return "—";
    return (rate * 100).toFixed(digits === undefined ? 1 : digits) + "%";
  }

  function count(n) { return n === null || n === undefined ? "—" : String(n); }

  var FIGURES = {
    csat: { label: "CSAT", format: percent, higherBetter: true },
    first_response_average_seconds: { label: "First response", format: duration, higherBetter: false },
    one_touch_rate: { label: "One-touch", format: percent, higherBetter: true },
    reopen_rate: { label: "Reopen rate", format: percent, higherBetter: false },
    complaint_rate: { label: "Complaint rate", format: percent, higherBetter: false },
  };
  var FIGURE_NAMES = Object.keys(FIGURES);

  // A difference already signed so that positive is better (versus_team), in the figure's own unit.
  function better(name, diff) {
    if (diff === null || diff === undefined) return "";
    var f = FIGURES[name];
    var small = f.format === duration ? Math.abs(diff) < 1 : Math.abs(diff) < 0.0005;
    if (small) return "= team";
    var size = f.format === duration ? duration(Math.abs(diff)) : (Math.abs(diff) * 100).toFixed(1) + " pts";
    return (diff > 0 ? "better by " : "worse by ") + size;
  }

  // A raw change (now - before): says whether it is better for the figure.
  function change(name, now, before) {
    if (now === null || now === undefined || before === null || before === undefined) return "";
    var diff = (now - before) * (FIGURES[name].higherBetter ? 1 : -1);
    if (Math.abs(diff) < 1e-9) return "unchanged";
    return (diff > 0 ? "▲ better " : "▼ worse ") + (FIGURES[name].format === duration
      ? duration(Math.abs(now - before)) : (Math.abs(now - before) * 100).toFixed(1) + " pts");
  }

  var STATUS_TEXT = { met: "✓ met", near: "≈ near", missed: "✗ missed" };

  // A goal over a period (/v1/queues/{q}/team period_goals): its status as a word, a symbol and a colour class.
  var PERIOD_STATUS = {
    met: ["✓ met", "met"], secured: ["✓ secured", "met"], on_track: ["↗ on track", "met"],
    at_risk: ["! at risk", "near"], out_of_reach: ["✗ out of reach", "missed"], missed: ["✗ missed", "missed"],
    not_started: ["not started", ""], no_data: ["no data yet", ""],
  };
  var GOAL_FIGURES = { csat: "csat", first_response_seconds_avg: "first_response_average_seconds",
    one_touch_rate: "one_touch_rate", reopen_rate: "reopen_rate", complaint_rate: "complaint_rate" };

  function periodGoalLine(g) {
    var f = FIGURES[GOAL_FIGURES[g.metric]];
    var status = PERIOD_STATUS[g.status] || [g.status, ""];
    var parts = [f.format(g.to_date) + " to date (" + g.days_elapsed + " of " + g.days_total + " days)"];
    if (g.projected !== null && g.status !== "met" && g.status !== "missed") parts.push("projected " + f.format(g.projected));
    if (g.needed !== null) parts.push("the rest needs " + f.format(g.needed));
    return el("li", { "data-metric": g.metric, "data-status": g.status }, [
      el("b", { text: f.label + " " + g.goal.split(" ").slice(1).join(" ") }), " ",
      el("span", { className: status[1], text: status[0] }), " · " + parts.join(" · ")]);
  }

  function statusText(status) { return STATUS_TEXT[status] || ""; }

  // ---- DOM ---------------------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function fill(id, children) {
    var node = document.getElementById(id);
    node.replaceChildren.apply(node, children);
    return node;
  }

  function pageLink(kind, scope, text) {
    // agent/zendesk/a1 -> <root>agent/zendesk/a1 ; queue/zendesk/billing -> <root>team/zendesk/billing
    var parts = scope.split("/");
    var path = (kind === "team" ? "team/" : "agent/") + parts.slice(1).map(encodeURIComponent).join("/");
    return el("a", { href: root + path, text: text });
  }

  // A table whose columns sort on click; columns: [{label, key(row) -> sortable value, cell(row) -> td, num}];
  // rowId(row) names each row (data-row), for links and live updates.
  function sortableTable(columns, rows, initial, rowId) {
    var sort = initial || { index: 0, dir: 1 };
    var table = el("table");
    var thead = el("thead");
    var tbody = el("tbody");
    table.appendChild(thead);
    table.appendChild(tbody);
    function render() {
      var headRow = el("tr");
      columns.forEach(function (c, i) {
        var th = el("th", { className: "sortable" + (c.num ? " num" : ""), text: c.label, scope: "col",
          "aria-sort": i === sort.index ? (sort.dir > 0 ? "ascending" : "descending") : null,
          title: c.title || null });
        th.addEventListener("click", function () {
          sort = { index: i, dir: i === sort.index ? -sort.dir : (c.num ? -1 : 1) };
          render();
        });
        headRow.appendChild(th);
      });
      thead.replaceChildren(headRow);
      var key = columns[sort.index].key;
      var sorted = rows.slice().sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === y) return 0;
        if (x === null || x === undefined) return 1; // no data last, whatever the direction
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * sort.dir;
      });
      tbody.replaceChildren.apply(tbody, sorted.map(function (row) {
        return el("tr", { "data-row": rowId ? rowId(row) : null },
          columns.map(function (c) { return c.cell(row); }));
      }));
    }
    render();
    return table;
  }

  // A figure in a tile: its status against a goal as colour, symbol and word.
  function tile(label, value, sub, status) {
    return el("div", { className: "tile" + (status ? " " + status : ""), "data-kpi": label,
      "data-status": status || "none" },
      [el("div", { className: "label", text: label }), el("div", { className: "value", text: value }),
        el("div", { className: "sub", text: (status ? statusText(status) + " · " : "") + (sub || "") })]);
  }

  // A scope body's goal (``goals`` of /v1 bodies) as a status; the bodies say met or not, not "near".
  function goalStatus(goal) {
    if (!goal || goal.met === null || goal.met === undefined) return null;
    return goal.met ? "met" : "missed";
  }

  // A quality cell: the value, its status against the goal (colour + symbol + word), and versus the team.
  function qualityCell(name, row) {
    var status = row.status ? row.status[name] : null;
    var td = el("td", { className: "num" + (status ? " " + status : ""), "data-figure": name,
      "data-status": status || "none" }, [FIGURES[name].format(row.quality[name])]);
    if (status) td.appendChild(el("span", { className: "vs", text: statusText(status) }));
    if (row.versus_team) td.appendChild(el("span", { className: "vs", text: better(name, row.versus_team[name]) }));
    return td;
  }

  // Buttons "Today" / "7 days" in the element ``id``: onChange("today" | "week") when one is pressed.
  function periodSwitch(id, initial, onChange) {
    var box = document.getElementById(id);
    [["today", "Today"], ["week", "7 days"]].forEach(function (p) {
      var b = el("button", { type: "button", text: p[1], "aria-pressed": String(p[0] === initial), "data-period": p[0] });
      b.addEventListener("click", function () {
        box.querySelectorAll("button").forEach(function (x) { x.setAttribute("aria-pressed", String(x === b)); });
        onChange(p[0]);
      });
      box.appendChild(b);
    });
  }

  // ---- the contacts behind a figure (drill-down) --------------------------------------------------------

  var CONTACT_STATES = {
    waiting: "Waiting", at_risk: "At risk", breaching: "Breaching", unassigned: "Unassigned", open: "Open",
    reopened: "Reopened", bad_rating: "Bad rating", complaint: "Complaints",
  };

  // Ages and deadlines on the stream's time (``as_of`` of the list), as the figures: a replay shows its own present.
  function since(iso, now) {
    return iso ? duration((now - Date.parse(iso)) / 1000) : "—";
  }

  function deadline(row, now) {
    if (!row.sla_next_deadline) return "—";
    var left = (Date.parse(row.sla_next_deadline) - now) / 1000;
    return left >= 0 ? "in " + duration(left) : "breached " + duration(-left) + " ago";
  }

  // The contacts of ``path`` ("v1/queues/<p>/<q>" or "v1/agents/<p>/<a>") in a state, in #<id>, with a button per
  // state in #<id>-states; ``names`` maps agent ids to names (the agent column is left out when null).
  // The list is read again every DRILL_REFRESH_MS (contacts change state while it is open); only the answer to the
  // latest request is shown, so a slow answer for the previous state never replaces the current one.
  // Returns show(state), for the tiles that lead to it.
  var DRILL_REFRESH_MS = 10000;

  function contactsDrill(id, path, states, initial, names) {
    var box = document.getElementById(id + "-states");
    var current = initial;
    var asked = 0;
    function load() {
      box.querySelectorAll("button").forEach(function (b) {
        b.setAttribute("aria-pressed", String(b.dataset.state === current));
      });
      var mine = ++asked;
      api(path + "/contacts?limit=100&state=" + current).then(function (body) {
        if (mine !== asked) return; // a newer request is on its way
        var now = Date.parse(body.as_of);
        var columns = [
          { label: "Contact", key: function (r) { return r.contact_id; },
            cell: function (r) {
              // the contact on its platform, where its events gave a link (attributes.url)
              var id = r.url ? el("a", { href: r.url, target: "_blank", rel: "noopener noreferrer", text: r.contact_id }) : r.contact_id;
              return el("td", { "data-col": "contact" }, [id]);
            } },
          { label: "Status", key: function (r) { return r.status; }, cell: function (r) { return el("td", { text: r.status || "—" }); } },
          { label: "Age", key: function (r) { return r.created_at; }, cell: function (r) { return el("td", { className: "num", text: since(r.created_at, now) }); } },
          { label: "First response", num: true, key: function (r) { return r.first_response_seconds; },
            cell: function (r) { return el("td", { className: "num", text: duration(r.first_response_seconds) }); } },
          { label: "Next SLA deadline", key: function (r) { return r.sla_next_deadline || "~"; },
            cell: function (r) { return el("td", { className: r.sla_next_deadline && Date.parse(r.sla_next_deadline) <= now ? "missed" : null, text: deadline(r, now) }); } },
          { label: "Category", key: function (r) { return r.category || ""; }, cell: function (r) { return el("td", { text: r.category || "—" }); } },
          { label: "Channel", key: function (r) { return r.channel || ""; }, cell: function (r) { return el("td", { text: r.channel || "—" }); } },
        ];
        if (names) {
          columns.splice(1, 0, { label: "Agent", key: function (r) { return r.agent || ""; },
            cell: function (r) { return el("td", { text: r.agent ? (names[r.agent] || r.agent) : "unassigned" }); } });
        }
        var note = el("p", { className: "muted", "data-total": String(body.total),
          text: body.total + " " + CONTACT_STATES[current].toLowerCase() + (body.total > body.items.length ? ", the " + body.items.length + " oldest shown" : "") });
        var age = names ? 3 : 2; // oldest first, as the API lists them
        fill(id, body.items.length ? [note, sortableTable(columns, body.items, { index: age, dir: 1 }, function (r) { return r.key; })] : [note]);
      }).catch(function (e) { if (mine === asked) showError(id, e); });
    }
    states.forEach(function (state) {
      var b = el("button", { type: "button", text: CONTACT_STATES[state], "data-state": state });
      b.addEventListener("click", function () { current = state; load(); });
      box.appendChild(b);
    });
    load();
    setInterval(function () { if (!document.hidden) load(); }, DRILL_REFRESH_MS);
    return function show(state) {
      current = state;
      load();
      document.getElementById(id).scrollIntoView({ behavior: "smooth", block: "start" });
    };
  }

  // ---- charts (uPlot) ----------------------------------------------------------------------------------

  var COLORS = ["#4b93f0", "#1f9d4c", "#f2b01e", "#b584f5", "#e0323c", "#3cc8c8", "#ff9f5a"];

  // days: the /v1/days body's "days"; series: [{label, value(day) -> number|null, bars, unit: "n"|"%"|"s"}]
  function dayChart(target, days, series) {
    var xs = days.map(function (d) { return Date.parse(d.from) / 1000; });
    var data = [xs].concat(series.map(function (s) { return days.map(s.value); }));
    var units = [];
    series.forEach(function (s) { if (units.indexOf(s.unit) < 0) units.push(s.unit); });
    var fmt = {
      n: function (v) { return v === null ? "—" : String(Math.round(v * 100) / 100); },
      "%": function (v) { return v === null ? "—" : (v * 100).toFixed(1) + "%"; },
      s: function (v) { return duration(v); },
    };
    var axis = { stroke: "#93a1b3", grid: { stroke: "#263241", width: 1 }, ticks: { stroke: "#263241" } };
    var opts = {
      width: Math.max(320, target.clientWidth || 600),
      height: 220,
      scales: { x: { time: true } },
      series: [{ value: function (u, v) { return v === null ? "—" : new Date(v * 1000).toISOString().slice(0, 10); } }]
        .concat(series.map(function (s, i) {
          var spec = { label: s.label, scale: s.unit, stroke: COLORS[i % COLORS.length], width: 2,
            value: function (u, v) { return fmt[s.unit](v); } };
          if (s.bars) {
            spec.paths = uPlot.paths.bars({ size: [0.6, 40] });
            spec.fill = COLORS[i % COLORS.length] + "99";
          }
          return spec;
        })),
      axes: [Object.assign({}, axis)].concat(units.map(function (unit, i) {
        return Object.assign({}, axis, { scale: unit, side: i ? 1 : 3, grid: i ? { show: false } : axis.grid,
          size: 60, values: function (u, vals) { return vals.map(fmt[unit]); } });
      })),
    };
    target.replaceChildren();
    var plot = new uPlot(opts, data, target);
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(320, target.clientWidth || 600), height: 220 });
    });
    return plot;
  }

  function showError(id, error) {
    fill(id, [el("p", { className: "error", text: "Could not load: " + error.message })]);
  }

  window.deskpulse = {
    root: root,
    api: api,
    download: download,
    encodeScope: encodeScope,
    stream: stream,
    setStatus: setStatus,
    duration: duration,
    percent: percent,
    count: count,
    FIGURES: FIGURES,
    FIGURE_NAMES: FIGURE_NAMES,
    better: better,
    change: change,
    statusText: statusText,
    el: el,
    fill: fill,
    pageLink: pageLink,
    sortableTable: sortableTable,
    qualityCell: qualityCell,
    periodGoalLine: periodGoalLine,
    PERIOD_STATUS: PERIOD_STATUS,
    tile: tile,
    periodSwitch: periodSwitch,
    goalStatus: goalStatus,
    dayChart: dayChart,
    showError: showError,
    contactsDrill: contactsDrill,
  };
})();
