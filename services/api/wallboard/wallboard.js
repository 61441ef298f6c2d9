/* deskpulse floor wallboard (docs/wallboard.md). Plain JS, no build step, no network beyond the API.
 *
 * URL: /?platform=zendesk&queue=billing&queue=vip&window=15m
 * Data: one EventSource on /v1/stream: "snapshot" {"scopes": [body, ...]} then "update" <body> per changed scope.
 * Bodies are the API's scope bodies (services/api/views.py scope_body, plus "goals").
 */
(function () {
  "use strict";

  var WINDOWS = ["5m", "15m", "30m", "1h", "24h", "today", "all"];
  var MAX_ROWS = 8;
  var AMBER_SHARE = 0.1; // amber: target met, but by less than 10 % of the target
  var RECONNECT_MS = [2000, 5000, 10000, 30000];
  // A dead connection that never errors (a TV's Wi-Fi, a proxy) is only visible if the server sends named
  // keepalive events: once one has been seen, silence for this long counts as a drop.
  var SILENCE_MS = 40000;

  var params = new URLSearchParams(window.location.search);
  var platform = (params.get("platform") || "").trim() || null;
  var queues = [];
  params.getAll("queue").forEach(function (q) {
    q.split(",").forEach(function (part) {
      part = part.trim();
      if (part && queues.indexOf(part) < 0) queues.push(part);
    });
  });
  var windowName = params.get("window") || "15m";
  if (WINDOWS.indexOf(windowName) < 0) windowName = "15m";
  // With DESKPULSE_API_TOKENS set, the stream accepts the token as ?access_token= (EventSource cannot send
  // headers). The page takes it from its own URL (?token= or ?access_token=); it is never stored.
  var token = params.get("token") || params.get("access_token") || null;
  var limits = {
    waiting: number(params.get("waiting_max")),
    oldest: number(params.get("oldest_max")),
    available: number(params.get("available_min")),
  };

  var agentScope = platform ? "platform/" + platform : "all";
  var queueSubscriptions = platform && queues.length
    ? queues.map(function (q) { return "queue/" + platform + "/" + q; })
    : [platform ? "queue/" + platform + "/" : "queue/"];

  var scopes = new Map(); // scope id -> {body, at: performance.now() when received}
  var lastUpdate = null; // Date of the last event received
  var source = null;
  var failures = 0;
  var retryTimer = null;
  var rows = new Map(); // scope id -> row element
  var lastHeard = 0; // Date.now() of the last event of any kind
  var keepalives = false; // the server sends "keepalive" events

  var $ = function (id) { return document.getElementById(id); };
  // the pages take a token given in their URL into sessionStorage and out of the address bar (docs/pages.md)
  var tokenQuery = token ? "?" + new URLSearchParams({ token: token }) : "";
  $("director-link").href = "director" + tokenQuery;

  // ---- formatting --------------------------------------------------------------------------------------

  function number(text) {
    if (text === null || text === "") return null;
    var n = Number(text);
    return isFinite(n) ? n : null;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
    var s = Math.max(0, Math.floor(seconds));
    if (s >= 86400) return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return h ? h + ":" + pad(m) + ":" + pad(r) : m + ":" + pad(r);
  }

  function percent(rate) {
    if (rate === null || rate === undefined || !isFinite(rate)) return "—";
    return Math.floor(rate * 100 + 1e-9) + "%"; // never rounds a miss up to the target
  }

  function count(n) {
    return n === null || n === undefined ? "—" : String(n);
  }

  function clock(date) {
    return pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }

  // ---- red / amber / green --------------------------------------------------------------------------------

  /* "red" when the target is missed, "amber" when met by less than 10 % of the target, "green" otherwise,
     "neutral" without a target or without data. Red matches the API's goals.<metric>.met === false. */
  function grade(value, op, target) {
    if (value === null || value === undefined || target === null || target === undefined) return "neutral";
    var higher = op === ">=" || op === ">";
    var met = op === ">=" ? value >= target : op === ">" ? value > target : op === "<" ? value < target : value <= target;
    if (!met) return "red";
    var margin = higher ? value - target : target - value;
    return margin < Math.abs(target) * AMBER_SHARE ? "amber" : "green";
  }

  function goal(body, name) {
    var g = body && body.goals && body.goals[name];
    return g && typeof g.target === "number" ? g : null;
  }

  function goalText(op, text) {
    return "goal " + (op === ">=" ? "≥" : op === "<=" ? "≤" : op) + " " + text;
  }

  // ---- figures of one scope, live values advanced to now ------------------------------------------------

  function elapsed(entry) { return (performance.now() - entry.at) / 1000; }

  function oldestAge(entry) {
    var age = entry.body.live && entry.body.live.oldest_waiting_age_seconds;
    return age === null || age === undefined ? null : age + elapsed(entry);
  }

  function nextBreach(entry) {
    var sla = entry.body.live && entry.body.live.sla;
    var s = sla && sla.seconds_to_next_breach;
    return s === null || s === undefined ? null : Math.max(0, s - elapsed(entry));
  }

  // ---- DOM ---------------------------------------------------------------------------------------------

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function tile(kpi) {
    var t = el("div", "tile neutral");
    t.dataset.kpi = kpi;
    t.appendChild(el("div", "value", "—"));
    t.appendChild(el("div", "sub", ""));
    return t;
  }

  function setTile(t, text, state, sub) {
    var value = t.querySelector(".value");
    if (value.textContent !== text) {
      if (value.textContent !== "—" && t.dataset.kpi !== "oldest") flash(t);
      value.textContent = text;
    }
    fitText(t, value);
    var subEl = t.querySelector(".sub");
    if (subEl.textContent !== (sub || "")) subEl.textContent = sub || "";
    var cls = "tile " + state + (text === "—" ? " nodata" : "") + (t.classList.contains("changed") ? " changed" : "");
    if (t.className !== cls) t.className = cls;
    t.dataset.state = state;
  }

  /* Shrink a value that would overflow its tile (long durations, "100%"); recomputed when text or size changes. */
  function fitText(t, value) {
    var key = value.textContent + "|" + t.clientWidth + "|" + t.clientHeight;
    if (t.dataset.fit === key) return;
    t.dataset.fit = key;
    value.style.fontSize = "";
    var room = t.clientWidth - 24;
    if (room > 0 && value.scrollWidth > room) {
      value.style.fontSize = Math.floor(parseFloat(getComputedStyle(value).fontSize) * room / value.scrollWidth) + "px";
    }
  }

  /* Long queue names: shrink until the name fits its cell on at most two lines. */
  function fitName(name) {
    var key = name.textContent + "|" + name.clientWidth + "|" + getComputedStyle(name.parentNode).height;
    if (name.dataset.fit === key) return;
    name.dataset.fit = key;
    name.style.fontSize = "";
    var size = parseFloat(getComputedStyle(name).fontSize);
    var lineHeight = 1.15;
    for (var i = 0; i < 12 && (name.scrollWidth > name.clientWidth || name.scrollHeight > size * lineHeight * 2 + 2); i++) {
      size = Math.floor(size * 0.9);
      name.style.fontSize = size + "px";
    }
  }

  function flash(t) {
    t.classList.remove("changed");
    void t.offsetWidth; // restart the animation
    t.classList.add("changed");
    setTimeout(function () { t.classList.remove("changed"); }, 1000);
  }

  function makeRow(scope) {
    var row = el("div", "qrow");
    row.dataset.scope = scope;
    var name = el("div", "qname");
    name.appendChild(el("a", "name")); // to the team's page (services/api/pages)
    name.appendChild(el("div", "platform"));
    var badge = el("div", "badge");
    badge.hidden = true;
    name.appendChild(badge);
    row.appendChild(name);
    ["waiting", "oldest", "service_level", "first_response", "staffing"].forEach(function (kpi) {
      row.appendChild(tile(kpi));
    });
    return row;
  }

  function matches(body) {
    if (!body || body.kind !== "queue") return false;
    if (platform && body.platform !== platform) return false;
    return queues.length === 0 || queues.indexOf(body.id) >= 0;
  }

  /* Rows to show: the queues named in the URL in their order (placeholders until data arrives), else every
     queue of the platform (or of all platforms) seen on the stream, by name. */
  function queueEntries() {
    var seen = [];
    scopes.forEach(function (entry) { if (matches(entry.body)) seen.push(entry); });
    if (!queues.length) {
      seen.sort(function (a, b) {
        return (a.body.platform + "/" + a.body.id).localeCompare(b.body.platform + "/" + b.body.id, undefined,
          { numeric: true });
      });
      return seen.map(function (e) { return { scope: e.body.scope, id: e.body.id, platform: e.body.platform, entry: e }; });
    }
    var out = [];
    queues.forEach(function (q) {
      var found = seen.filter(function (e) { return e.body.id === q; });
      if (found.length) {
        found.forEach(function (e) { out.push({ scope: e.body.scope, id: q, platform: e.body.platform, entry: e }); });
      } else {
        out.push({ scope: "queue/" + (platform || "?") + "/" + q, id: q, platform: platform, entry: null });
      }
    });
    return out;
  }

  function renderQueues() {
    var list = queueEntries();
    var shown = list.slice(0, MAX_ROWS);
    var container = $("queue-rows");
    var gap = 14, room = 806 - 48 - (list.length > MAX_ROWS ? 44 : 0);
    var n = Math.max(shown.length, 2);
    var height = Math.min(250, Math.floor((room - gap * (n - 1)) / n));
    container.style.setProperty("--row-h", height + "px");
    container.classList.toggle("compact", height < 120); // too small for the goal lines: value only

    var keep = new Set();
    shown.forEach(function (item, index) {
      keep.add(item.scope);
      var row = rows.get(item.scope);
      if (!row) {
        row = makeRow(item.scope);
        rows.set(item.scope, row);
      }
      if (container.children[index] !== row) container.insertBefore(row, container.children[index] || null);
      renderRow(row, item);
    });
    rows.forEach(function (row, scope) {
      if (!keep.has(scope)) { row.remove(); rows.delete(scope); }
    });

    var more = $("queues-more");
    more.hidden = list.length <= MAX_ROWS;
    more.textContent = list.length > MAX_ROWS
      ? "+" + (list.length - MAX_ROWS) + " more queues — choose with ?queue=…" : "";
    var empty = $("queues-empty");
    empty.hidden = shown.length > 0;
    if (!shown.length) {
      empty.textContent = lastUpdate ? "No queue matches " + describeSelection() : "Waiting for data…";
    }
  }

  function renderRow(row, item) {
    var entry = item.entry;
    var body = entry ? entry.body : null;
    var live = body ? body.live || {} : {};
    var nameEl = row.querySelector(".name");
    var shown = (body && body.name) || item.id; // a display name from the SLA config's names:, else the id
    if (nameEl.textContent !== shown) nameEl.textContent = shown;
    if (nameEl.title !== item.id) nameEl.title = item.id;
    var team = "team/" + encodeURIComponent(item.platform) + "/" + item.id.split("/").map(encodeURIComponent).join("/") +
      tokenQuery;
    if (nameEl.getAttribute("href") !== team) nameEl.setAttribute("href", team);
    fitName(nameEl);
    row.querySelector(".platform").textContent = platform ? "" : item.platform || "";
    row.classList.toggle("nodata", !entry);

    var sla = live.sla || {};
    var badge = row.querySelector(".badge");
    if (sla.breaching > 0) {
      badge.hidden = false; badge.className = "badge"; badge.textContent = sla.breaching + " breaching";
    } else if (sla.at_risk > 0) {
      badge.hidden = false; badge.className = "badge at-risk"; badge.textContent = sla.at_risk + " at risk";
    } else {
      badge.hidden = true;
    }

    var tiles = row.querySelectorAll(".tile");
    // Waiting: open without a first response; live channels also show how many are queued for an agent.
    var waiting = body ? live.waiting : null;
    setTile(tiles[0], count(waiting), grade(waiting, "<=", limits.waiting),
      live.in_queue > 0 ? live.in_queue + " in queue" : (limits.waiting !== null ? goalText("<=", limits.waiting) : ""));

    // Oldest waiting: counts up between updates.
    var age = entry ? oldestAge(entry) : null;
    setTile(tiles[1], duration(age), grade(age, "<=", limits.oldest),
      limits.oldest !== null ? goalText("<=", duration(limits.oldest)) : "");

    // Service level of the window, against goals.service_level.
    var sl = body && body.service_level ? body.service_level.rate : null;
    var slGoal = goal(body, "service_level");
    setTile(tiles[2], percent(sl), slGoal ? grade(sl, slGoal.op, slGoal.target) : "neutral",
      slGoal ? goalText(slGoal.op, percent(slGoal.target)) : "");

    // First response time, average of the window, against goals.first_response_seconds_avg.
    var fr = body && body.first_response ? body.first_response.average_seconds : null;
    var frGoal = goal(body, "first_response_seconds_avg");
    setTile(tiles[3], duration(fr), frGoal ? grade(fr, frGoal.op, frGoal.target) : "neutral",
      frGoal ? goalText(frGoal.op, duration(frGoal.target)) : "");

    // Staffing: agents the Erlang C forecast needs for the queue's SL target over the staffing window, against
    // the agents available or busy on its platform now; red when fewer are on the floor than needed, amber when
    // exactly enough or within a tenth.
    var staffing = body ? body.staffing : null;
    setTile(tiles[4], count(staffing ? staffing.agents_needed : null), staffingGrade(staffing),
      staffingText(staffing));
  }

  var STAFFING_REASONS = {
    no_arrivals: "no live contacts", no_handle_time: "no handle time yet",
    no_agent_presence: "no agent presence", beyond_model: "beyond the model",
  };

  function known(value) { return value !== null && value !== undefined; }

  function staffingGrade(s) {
    if (!s || !known(s.agents_needed) || !known(s.agents_available)) return "neutral";
    // as the other tiles: amber when met by less than 10 % (AMBER_SHARE) of the agents needed
    if (s.agents_available < s.agents_needed) return "red";
    return s.agents_available - s.agents_needed < s.agents_needed * AMBER_SHARE ? "amber" : "green";
  }

  function staffingText(s) {
    if (!s) return "";
    if (!known(s.agents_needed) || !known(s.agents_available)) return STAFFING_REASONS[s.reason] || "";
    return s.agents_available + " on floor";
  }

  function renderAgents() {
    var entry = scopes.get(agentScope);
    var agents = entry && entry.body.live ? entry.body.live.agents : null;
    var available = agents ? agents.available : null;
    setTile($("agents-available"), count(available), grade(available, ">=", limits.available),
      agents ? "of " + (agents.available + agents.busy + agents.away) + " logged in" : "");
    ["available", "busy", "away", "offline"].forEach(function (state) {
      var li = document.querySelector('#agent-states [data-state="' + state + '"] .count');
      li.textContent = agents ? count(agents[state]) : "—";
    });
    $("agents-scope").textContent = platform ? "platform " + platform : "all platforms";
  }

  function renderTicker() {
    var items = [];
    var breaching = false;
    queueEntries().forEach(function (item) {
      if (!item.entry) return;
      var sla = (item.entry.body.live || {}).sla || {};
      var label = platform ? item.id : item.platform + " / " + item.id;
      if (sla.breaching > 0) {
        breaching = true;
        items.push({ cls: "item", name: label, what: sla.breaching + " breaching",
          risk: sla.at_risk > 0 ? "· " + sla.at_risk + " at risk" : null, next: nextBreach(item.entry) });
      } else if (sla.at_risk > 0) {
        items.push({ cls: "item at-risk", name: label, what: sla.at_risk + " at risk", risk: "",
          next: nextBreach(item.entry) });
      }
    });
    var ticker = $("ticker");
    ticker.className = breaching ? "breaching" : items.length ? "at-risk" : "clear";
    var box = $("ticker-items");
    var signature = JSON.stringify(items.map(function (i) { return [i.cls, i.name, i.what, i.risk, i.next !== null]; }));
    if (box.dataset.signature !== signature) {
      box.dataset.signature = signature;
      box.textContent = "";
      if (!items.length) box.appendChild(el("span", "ok", "No SLA breaches or clocks at risk"));
      items.forEach(function (i) {
        var node = el("span", i.cls);
        node.appendChild(el("span", "name", i.name));
        node.appendChild(el("span", "what", i.what));
        if (i.risk !== null && i.next !== null) node.appendChild(el("span", "next"));
        box.appendChild(node);
      });
      box.classList.remove("scrolling");
    }
    // countdowns to the next breach, advanced every second
    var nodes = box.querySelectorAll(".item");
    items.forEach(function (i, index) {
      var next = nodes[index] && nodes[index].querySelector(".next");
      if (next) next.textContent = (i.risk ? i.risk + " · next in " : "· breach in ") + duration(i.next);
    });
    scrollIfNeeded(box);
  }

  /* Scroll the ticker only when its items do not fit; the content is doubled so the loop is seamless. */
  function scrollIfNeeded(box) {
    var track = box.parentNode;
    var scrolling = box.classList.contains("scrolling");
    var width = scrolling ? box.scrollWidth / 2 : box.scrollWidth;
    if (!scrolling && width > track.clientWidth) {
      Array.prototype.slice.call(box.children).forEach(function (c) { box.appendChild(c.cloneNode(true)); });
      box.style.setProperty("--ticker-shift", "-" + (width + 28) + "px");
      box.style.setProperty("--ticker-s", Math.max(10, width / 120) + "s");
      box.classList.add("scrolling");
    }
  }

  function renderStatus(state, detail) {
    document.body.classList.remove("connecting", "live", "reconnecting", "offline");
    document.body.classList.add(state);
    var text = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" }[state];
    $("status-text").textContent = text;
    var banner = $("stale-banner");
    banner.hidden = state === "live" || state === "connecting";
    if (!banner.hidden) {
      $("stale-text").textContent = "Stale: " + (detail || "stream dropped, reconnecting…") +
        (lastUpdate ? " Last update " + clock(lastUpdate) : "");
    }
    document.body.dataset.status = state;
  }

  function render() {
    renderQueues();
    renderAgents();
    renderTicker();
    $("updated-time").textContent = lastUpdate ? clock(lastUpdate) : "—";
  }

  function describeSelection() {
    var parts = [];
    if (platform) parts.push("platform=" + platform);
    queues.forEach(function (q) { parts.push("queue=" + q); });
    return parts.length ? parts.join(" ") : "(any)";
  }

  // ---- the stream ---------------------------------------------------------------------------------------

  function streamUrl() {
    var q = new URLSearchParams();
    q.append("scope", agentScope);
    queueSubscriptions.forEach(function (s) { q.append("scope", s); });
    q.append("window", windowName);
    if (token) q.append("access_token", token);
    return "v1/stream?" + q.toString();
  }

  function accept(body, at) {
    if (body && typeof body.scope === "string") scopes.set(body.scope, { body: body, at: at });
  }

  function received() {
    lastUpdate = new Date();
    lastHeard = Date.now();
    failures = 0;
    if (!document.body.classList.contains("live")) renderStatus("live");
    render();
  }

  function connect() {
    clearTimeout(retryTimer);
    if (source) source.close();
    source = new EventSource(streamUrl());
    source.addEventListener("open", function () {
      // First connection: "live" once the snapshot arrived. A reconnection is live as soon as it is open: the
      // API resumes after Last-Event-ID with the changes missed (maybe none) or a fresh snapshot.
      failures = 0;
      lastHeard = Date.now();
      if (lastUpdate !== null) renderStatus("live");
    });
    source.addEventListener("snapshot", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      var at = performance.now();
      scopes.clear(); // a snapshot is the whole state of the subscription
      (data.scopes || []).forEach(function (body) { accept(body, at); });
      received();
    });
    source.addEventListener("update", function (event) {
      var body;
      try { body = JSON.parse(event.data); } catch (e) { return; }
      accept(body, performance.now());
      received();
    });
    source.addEventListener("keepalive", function () {
      keepalives = true;
      lastHeard = Date.now();
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CONNECTING) {
        // the browser reconnects by itself, sending Last-Event-ID
        renderStatus("reconnecting");
      } else {
        // closed for good (HTTP error or wrong content type): retry ourselves, backing off
        failures += 1;
        var wait = RECONNECT_MS[Math.min(failures - 1, RECONNECT_MS.length - 1)];
        renderStatus("offline", "stream unavailable, retrying in " + Math.round(wait / 1000) + " s.");
        retryTimer = setTimeout(connect, wait);
      }
    });
  }

  // ---- layout -------------------------------------------------------------------------------------------

  function fit() {
    var scale = Math.min(window.innerWidth / 1920, window.innerHeight / 1080);
    $("stage").style.transform = "translate(-50%, -50%) scale(" + scale + ")";
  }

  function start() {
    var title = params.get("title");
    if (!title) {
      title = (platform ? platform.charAt(0).toUpperCase() + platform.slice(1) : "All platforms") +
        (queues.length ? " · " + queues.join(", ") : "");
    }
    $("title").textContent = title;
    document.title = title + " — deskpulse";
    var span = windowName === "all" ? "all time" : windowName === "today" ? "today" : "last " + windowName;
    $("window-label").textContent = "SL & FRT: " + span;
    fit();
    window.addEventListener("resize", fit);
    render();
    connect();
    setInterval(function () {
      // live ages count between updates
      renderQueues();
      renderTicker();
      if (keepalives && document.body.classList.contains("live") && Date.now() - lastHeard > SILENCE_MS) {
        renderStatus("reconnecting", "no word from the API for " + SILENCE_MS / 1000 + " s, reconnecting…");
        lastHeard = Date.now();
        connect();
      }
    }, 1000);
  }

  // exposed for tests and the console, read-only use
  window.deskpulseWallboard = {
    grade: grade, duration: duration, percent: percent, streamUrl: streamUrl, staffingGrade: staffingGrade,
    staffingText: staffingText,
    scopes: function () { return Array.from(scopes.keys()); },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
