/* K-wise vote page (K-Sort Arena): fetch K anonymous answers from the REST API, render them
   safely (DOM + textContent via LudusMarkdown), let the voter pick them best first with the
   mouse (each answer's "Pick" button) or the keyboard (1..K, Backspace undoes, Enter submits),
   post the ranking with an Idempotency-Key, reveal the models, next. */
(function () {
  "use strict";
  var script = document.getElementById("vote-script");
  var k = parseInt(script.getAttribute("data-k"), 10);
  var nextUrl = script.getAttribute("data-next-url");
  var voteUrl = script.getAttribute("data-vote-url");
  var statusEl = document.getElementById("vote-status");
  var battleEl = document.getElementById("battle");
  var answersEl = document.getElementById("answers");
  var orderEl = document.getElementById("kwise-order");
  var undoBtn = document.getElementById("kwise-undo");
  var submitBtn = document.getElementById("kwise-submit");
  var nextBtn = document.getElementById("next-battle");
  var categoryEl = document.getElementById("vote-category");
  var current = null, busy = false, voted = false, order = [];

  function say(text, isError) { statusEl.textContent = text; statusEl.className = isError ? "error" : "muted"; }
  function errorMessage(body, fallback) {
    if (!body || !body.error) return fallback;
    var msg = body.error.message || fallback, fields = body.error.fields || body.error.field_errors;
    if (fields && fields.ranking) msg += " " + fields.ranking.join(" ");
    return msg;
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (a) { e.setAttribute(a, attrs[a]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function labels() { return current ? current.answers.map(function (a) { return a.label; }) : []; }

  function render() {
    labels().forEach(function (label) {
      var place = order.indexOf(label);
      var card = document.getElementById("answer-" + label);
      var badge = document.getElementById("rank-" + label);
      var pick = document.getElementById("pick-" + label);
      card.classList.toggle("ranked", place >= 0);
      badge.textContent = place >= 0 ? "#" + (place + 1) : "";
      pick.textContent = place >= 0 ? "Picked" : "Pick";
      pick.disabled = voted || busy || place >= 0;
      pick.setAttribute("aria-pressed", place >= 0 ? "true" : "false");
    });
    orderEl.textContent = order.length ? "Your ranking: " + order.join(" > ") : "";
    undoBtn.disabled = voted || busy || !order.length;
    submitBtn.disabled = voted || busy || order.length !== labels().length;
  }
  function pick(label) {
    if (!current || busy || voted || order.indexOf(label) >= 0) return;
    order.push(label);
    if (order.length === labels().length - 1) {  // the last answer can only be last
      labels().forEach(function (l) { if (order.indexOf(l) < 0) order.push(l); });
    }
    render();
    say(order.length === labels().length ? "Ranking complete: press Enter (or Submit) to vote." : "Pick the next best answer.");
  }
  function undo() {
    if (!order.length || busy || voted) return;
    order.pop();
    if (order.length === labels().length - 1) order.pop();  // undo the automatic last place too
    render();
  }

  function build() {
    answersEl.textContent = "";
    current.answers.forEach(function (a) {
      var card = el("article", { "class": "answer", id: "answer-" + a.label, "aria-labelledby": "answer-" + a.label + "-h" });
      var h = el("h2", { id: "answer-" + a.label + "-h" });
      h.appendChild(el("span", {}, "Answer " + a.label));
      h.appendChild(el("span", { "class": "rank-badge", id: "rank-" + a.label }));
      var btn = el("button", { type: "button", "class": "pick", id: "pick-" + a.label, "data-label": a.label, "aria-pressed": "false" }, "Pick");
      btn.addEventListener("click", function () { pick(a.label); });
      h.appendChild(btn);
      card.appendChild(h);
      var body = el("div", { "class": "body md", id: "answer-" + a.label + "-body", tabindex: "0" });
      LudusMarkdown.render(body, a.text);
      card.appendChild(body);
      card.appendChild(el("div", { "class": "reveal", id: "reveal-" + a.label, hidden: "" }));
      answersEl.appendChild(card);
    });
  }

  function load() {
    busy = true; voted = false; current = null; order = [];
    nextBtn.hidden = true;
    say("Loading a battle…");
    var url = nextUrl + "?k=" + k + (categoryEl && categoryEl.value ? "&category=" + encodeURIComponent(categoryEl.value) : "");
    LudusVote.getBattle(url)
      .then(function (r) {
        busy = false;
        if (!r.resp.ok) {
          battleEl.hidden = false; answersEl.textContent = ""; orderEl.textContent = "";
          say(errorMessage(r.body, "Could not load a battle (HTTP " + r.resp.status + ")."), r.resp.status !== 404);
          nextBtn.hidden = false; nextBtn.textContent = "Try again";
          undoBtn.disabled = true; submitBtn.disabled = true;
          return;
        }
        current = r.body;
        document.getElementById("prompt").textContent = current.prompt;
        build();
        battleEl.hidden = false;
        nextBtn.textContent = "Next battle →";
        render();
        say("Battle loaded" + (current.category ? " (" + current.category + ")" : "") + ". Pick the best answer first.");
      })
      .catch(function () { busy = false; say("Network error while loading a battle; press Enter to retry.", true); nextBtn.hidden = false; });
  }

  function submit() {
    if (!current || busy || voted || order.length !== labels().length) return;
    busy = true; render();
    say("Recording your ranking…");
    LudusVote.postVote(voteUrl, { token: current.token, ranking: order })
      .then(function (r) {
        busy = false;
        if (!r.resp.ok) {
          say(errorMessage(r.body, "Your ranking was not recorded (HTTP " + r.resp.status + ")."), true);
          if (r.resp.status === 409 || r.resp.status === 403 || (r.resp.status === 400 && r.body && r.body.error && r.body.error.code !== "invalid")) { voted = true; nextBtn.hidden = false; }
          render();
          return;
        }
        voted = true;
        var names = [];
        r.body.results.forEach(function (res) {
          var rv = document.getElementById("reveal-" + res.label);
          rv.textContent = "#" + res.rank + ": " + res.model; rv.hidden = false;
          names[res.rank - 1] = res.model;
        });
        render();
        say("Thanks! Your ranking: " + names.join(" > ") + ". Press Enter for the next battle.");
        nextBtn.hidden = false;
        nextBtn.focus();
      })
      .catch(function () { busy = false; render(); say("Network error: your ranking was not recorded; try again.", true); });
  }

  undoBtn.addEventListener("click", undo);
  submitBtn.addEventListener("click", submit);
  nextBtn.addEventListener("click", function () { if (!busy) load(); });
  if (categoryEl) categoryEl.addEventListener("change", function () { if (!busy) load(); });
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    if (e.key === "Enter") {
      if (tag === "BUTTON" && !e.target.disabled) return;  // the focused button's own click
      e.preventDefault();
      if (!nextBtn.hidden) load(); else submit();
      return;
    }
    if (e.key === "Backspace") { e.preventDefault(); undo(); return; }
    var n = parseInt(e.key, 10);
    if (n >= 1 && n <= labels().length) { e.preventDefault(); pick(labels()[n - 1]); }
  });
  load();
})();
