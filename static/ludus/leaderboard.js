/* Live leaderboard: client-side search and sort, and polling of /leaderboard.json with an ETag.
   Everything is built with createElement/textContent: no server or contestant text becomes HTML. */
(function () {
  "use strict";
  var script = document.getElementById("lb-script");
  var stateEl = document.getElementById("lb-state");
  if (!script || !stateEl) return;
  var state = JSON.parse(stateEl.textContent);
  var pollMs = parseInt(script.getAttribute("data-poll-ms"), 10) || 2000;
  var jsonUrl = script.getAttribute("data-json-url");
  var etag = '"' + state.etag + '"';
  var sortKey = "rank", sortDir = 1;
  var body = document.getElementById("lb-body");
  var search = document.getElementById("lb-search");
  var form = document.getElementById("lb-controls");
  var live = document.getElementById("lb-live");

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmtInt(x) { return Number(x || 0).toLocaleString("en-US"); }

  var SECTIONS = ["ranked", "provisional", "separate"];

  function rowFor(r) {
    var tr = el("tr", { "data-model": r.model, "data-id": r.competitor_id || "", "data-section": r.section });
    tr.appendChild(el("td", { "class": "num" }, r.rank === null || r.rank === undefined ? "–" : r.rank));
    var name = el("td");
    if (r.competitor_id) name.appendChild(el("a", { href: "/models/" + r.competitor_id + "/" }, r.model));
    else name.textContent = r.model;
    (r.badges || []).forEach(function (b) {
      name.appendChild(document.createTextNode(" "));
      name.appendChild(el("span", { "class": "badge" }, b));
    });
    tr.appendChild(name);
    var rating = el("td", { "class": "num rating" }, r.rating_text);
    rating.appendChild(document.createTextNode(" "));
    rating.appendChild(el("span", { "class": "muted small" }, r.interval_text));
    tr.appendChild(rating);
    var ciCell = el("td", { "class": "hide-sm" });
    var ci = el("div", { "class": "ci", role: "img",
      "aria-label": r.x_lo !== null && r.x_lo !== undefined ? "interval " + r.interval_text : "no interval" });
    if (r.x_lo !== null && r.x_lo !== undefined) {
      var range = el("span", { "class": "range" });
      range.style.left = r.x_lo + "%"; range.style.width = r.x_w + "%";
      ci.appendChild(range);
    }
    var point = el("span", { "class": "point" });
    point.style.left = r.x + "%";
    ci.appendChild(point);
    ciCell.appendChild(ci);
    tr.appendChild(ciCell);
    tr.appendChild(el("td", { "class": "num battles" }, fmtInt(r.battles)));
    tr.appendChild(el("td", { "class": "num" }, r.win_rate_text));
    tr.appendChild(el("td", { "class": "hide-sm" }, r.owner || "–"));
    return tr;
  }

  function sectionHead(title) {
    var tr = el("tr", { "class": "section-head" });
    tr.appendChild(el("th", { scope: "rowgroup", colspan: "7" }, title));
    return tr;
  }

  function compare(a, b) {
    var s = SECTIONS.indexOf(a.section) - SECTIONS.indexOf(b.section);  // sections stay apart
    if (s) return s;
    var x = a[sortKey], y = b[sortKey];
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    var c = typeof x === "string" ? sortDir * x.localeCompare(y) : sortDir * (x - y);
    return c || (b.rating - a.rating) || a.model.localeCompare(b.model);  // ties: better rating first
  }

  function render(flashChanged) {
    if (!body) return;
    var old = {};
    Array.prototype.forEach.call(body.querySelectorAll("tr[data-model]"), function (tr) { old[tr.getAttribute("data-model")] = tr.querySelector(".battles").textContent; });
    var q = (search && search.value || "").trim().toLowerCase();
    var rows = state.rows.slice().sort(compare);
    var frag = document.createDocumentFragment();
    var titles = {};
    state.rows.forEach(function (r) { if (r.section_title) titles[r.section] = r.section_title; });
    var section = null;
    rows.forEach(function (r) {
      if (r.section !== section) {
        section = r.section;
        if (titles[section]) frag.appendChild(sectionHead(titles[section]));
      }
      var tr = rowFor(r);
      if (q && (r.model + " " + (r.owner || "")).toLowerCase().indexOf(q) < 0) tr.hidden = true;
      if (flashChanged && old[r.model] !== undefined && old[r.model] !== fmtInt(r.battles)) tr.className = "flash";
      frag.appendChild(tr);
    });
    body.textContent = "";
    body.appendChild(frag);
    document.getElementById("lb-table-wrap").hidden = state.rows.length === 0;
    document.getElementById("lb-empty").hidden = state.rows.length > 0;
  }

  function renderStatus() {
    var s = state.snapshot;
    document.getElementById("lb-version").textContent = s ? "v" + s.version : "–";
    var t = document.getElementById("lb-time");
    t.textContent = s ? (s.created_label || s.created_at) : "never";
    t.setAttribute("datetime", s ? s.created_at : "");
    document.getElementById("lb-data-version").textContent = s ? s.data_version : "–";
    document.getElementById("lb-n-battles").textContent = s ? s.n_battles : 0;
    document.getElementById("lb-recomputing").hidden = !state.pending;
  }

  // Sorting by column header buttons (keyboard accessible: they are buttons).
  Array.prototype.forEach.call(document.querySelectorAll("#leaderboard th[data-key]"), function (th) {
    var btn = th.querySelector("button.sort");
    if (!btn) return;
    btn.addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      if (key === sortKey) sortDir = -sortDir;
      else { sortKey = key; sortDir = (key === "model" || key === "owner" || key === "rank") ? 1 : -1; }
      Array.prototype.forEach.call(document.querySelectorAll("#leaderboard th[data-key]"), function (o) { o.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", sortDir === 1 ? "ascending" : "descending");
      render(false);
    });
  });
  if (search) search.addEventListener("input", function () { render(false); });
  if (form) {
    Array.prototype.forEach.call(form.querySelectorAll("select"), function (s) {
      s.addEventListener("change", function () { form.submit(); });
    });
    form.addEventListener("submit", function () { if (search) search.disabled = true; });
  }

  var timer = null;
  function poll() {
    timer = null;
    if (document.hidden) { schedule(); return; }
    var url = jsonUrl + "?method=" + encodeURIComponent(state.method) + "&source=" + encodeURIComponent(state.source) +
      "&category=" + encodeURIComponent(state.category);
    fetch(url, { headers: { "If-None-Match": etag, "Accept": "application/json" }, cache: "no-cache", credentials: "same-origin" })
      .then(function (resp) {
        if (resp.status === 304) return null;
        if (!resp.ok) throw new Error("HTTP " + resp.status);
        etag = resp.headers.get("ETag") || etag;
        return resp.json();
      })
      .then(function (data) {
        if (!data) return;
        var before = state.snapshot ? state.snapshot.version : null;
        state = data;
        etag = '"' + data.etag + '"';
        renderStatus();
        render(true);
        if (data.snapshot && data.snapshot.version !== before) live.textContent = "Leaderboard updated to snapshot version " + data.snapshot.version + ".";
        else if (data.pending) live.textContent = "Recomputing the leaderboard.";
      })
      .catch(function () { /* a failed poll is retried on the next tick */ })
      .then(schedule);
  }
  function schedule() { if (!timer) timer = setTimeout(poll, pollMs); }
  document.addEventListener("visibilitychange", function () { if (!document.hidden && !timer) poll(); });
  schedule();
})();
