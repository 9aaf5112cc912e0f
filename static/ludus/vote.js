/* Anonymous vote page: fetch a battle from the REST API, render both answers safely (DOM +
   textContent via LudusMarkdown), post the vote with an Idempotency-Key, reveal, next. */
(function () {
  "use strict";
  var script = document.getElementById("vote-script");
  var nextUrl = script.getAttribute("data-next-url");
  var voteUrl = script.getAttribute("data-vote-url");
  var statusEl = document.getElementById("vote-status");
  var battleEl = document.getElementById("battle");
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button[data-choice]"));
  var nextBtn = document.getElementById("next-battle");
  var categoryEl = document.getElementById("vote-category");
  var current = null, busy = false, voted = false;

  function say(text, isError) {
    statusEl.textContent = text;
    statusEl.className = isError ? "error" : "muted";
  }
  function errorMessage(body, fallback) {
    return (body && body.error && body.error.message) || fallback;
  }

  function setButtons(enabled) { buttons.forEach(function (b) { b.disabled = !enabled; }); }

  function load() {
    busy = true; voted = false; current = null;
    setButtons(false);
    nextBtn.hidden = true;
    say("Loading a battle…");
    var url = nextUrl + (categoryEl && categoryEl.value ? "?category=" + encodeURIComponent(categoryEl.value) : "");
    LudusVote.getBattle(url)
      .then(function (r) {
        busy = false;
        if (!r.resp.ok) {
          battleEl.hidden = true;
          say(errorMessage(r.body, "Could not load a battle (HTTP " + r.resp.status + ")."), r.resp.status !== 404);
          if (r.resp.status === 404) { nextBtn.hidden = false; nextBtn.textContent = "Try again"; battleEl.hidden = false; hideBattle(); }
          return;
        }
        current = r.body;
        document.getElementById("prompt").textContent = current.prompt;
        LudusMarkdown.render(document.getElementById("answer-a-body"), current.answer_a);
        LudusMarkdown.render(document.getElementById("answer-b-body"), current.answer_b);
        ["a", "b"].forEach(function (s) {
          var rv = document.getElementById("reveal-" + s); rv.hidden = true; rv.textContent = "";
          document.getElementById("answer-" + s).classList.remove("chosen");
          document.getElementById("answer-" + s + "-body").scrollTop = 0;
        });
        battleEl.hidden = false;
        showBattle();
        setButtons(true);
        say("Battle loaded" + (current.category ? " (" + current.category + ")" : "") + ". Pick the better answer.");
      })
      .catch(function () { busy = false; say("Network error while loading a battle; press Enter to retry.", true); nextBtn.hidden = false; });
  }
  function hideBattle() {
    Array.prototype.forEach.call(battleEl.querySelectorAll(".panel, .battle, .vote-buttons[role=group]"), function (e) { e.hidden = true; });
  }
  function showBattle() {
    Array.prototype.forEach.call(battleEl.querySelectorAll(".panel, .battle, .vote-buttons[role=group]"), function (e) { e.hidden = false; });
    nextBtn.textContent = "Next battle →";
  }

  function vote(choice) {
    if (!current || busy || voted) return;
    busy = true;
    setButtons(false);
    say("Recording your vote…");
    LudusVote.postVote(voteUrl, { token: current.token, outcome: choice })
      .then(function (r) {
        busy = false;
        if (!r.resp.ok) {
          say(errorMessage(r.body, "Your vote was not recorded (HTTP " + r.resp.status + ")."), true);
          if (r.resp.status === 409 || r.resp.status === 400 || r.resp.status === 403) { voted = true; nextBtn.hidden = false; }
          else setButtons(true);
          return;
        }
        voted = true;
        var ra = document.getElementById("reveal-a"), rb = document.getElementById("reveal-b");
        ra.textContent = "Model A was " + r.body.model_a; ra.hidden = false;
        rb.textContent = "Model B was " + r.body.model_b; rb.hidden = false;
        if (choice === "A") document.getElementById("answer-a").classList.add("chosen");
        if (choice === "B") document.getElementById("answer-b").classList.add("chosen");
        say("Thanks! A was " + r.body.model_a + ", B was " + r.body.model_b + ". Press Enter for the next battle.");
        nextBtn.hidden = false;
        nextBtn.focus();
      })
      .catch(function () { busy = false; setButtons(true); say("Network error: your vote was not recorded; try again.", true); });
  }

  buttons.forEach(function (b) { b.addEventListener("click", function () { vote(b.getAttribute("data-choice")); }); });
  nextBtn.addEventListener("click", function () { if (!busy) load(); });
  if (categoryEl) categoryEl.addEventListener("change", function () { if (!busy) load(); });
  var keys = { "1": "A", "a": "A", "2": "B", "b": "B", "3": "tie", "t": "tie", "4": "bothbad", "n": "bothbad" };
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    if (e.key === "Enter" && !nextBtn.hidden && tag !== "BUTTON") { e.preventDefault(); load(); return; }
    var choice = keys[e.key && e.key.toLowerCase()];
    if (choice && !voted) { e.preventDefault(); vote(choice); }
  });
  load();
})();
