/* What the pairwise and the K-wise vote pages share: reading a battle and posting a vote
   (JSON, CSRF, an Idempotency-Key kept across retries so a vote never counts twice). */
(function () {
  "use strict";
  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }
  // {resp, body}: body is the parsed JSON, or null when the response is not JSON
  function withBody(resp) {
    return resp.json().catch(function () { return null; }).then(function (body) { return { resp: resp, body: body }; });
  }
  function getBattle(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(withBody);
  }
  function postVote(url, data) {
    var key = uuid(), payload = JSON.stringify(data);
    function send(attempt) {
      return fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRFToken": cookie("csrftoken"), "Idempotency-Key": key },
        body: payload
      }).catch(function (err) { if (attempt < 2) return send(attempt + 1); throw err; });  // same key: never counted twice
    }
    return send(0).then(withBody);
  }
  window.LudusVote = { getBattle: getBattle, postVote: postVote };
})();
