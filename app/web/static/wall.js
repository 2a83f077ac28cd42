/* Display wall: fetch the live fragment every N seconds and swap it in (no full reload, no flicker).
   The fragment is server-rendered and sanitised; it is parsed with DOMParser (scripts never run) and
   the old content is replaced in one DOM operation. On failure the old content stays and a status
   line says so; retries back off up to 8 intervals. data-refresh-count counts successful swaps. */
(function () {
  "use strict";
  var live = document.getElementById("wall-live");
  if (!live) { return; }
  var url = live.getAttribute("data-refresh-url");
  var seconds = Math.max(1, parseInt(live.getAttribute("data-refresh-s"), 10) || 20);
  var status = document.getElementById("wall-status");
  var failures = 0;
  var swaps = 0;

  function schedule() {
    var factor = Math.min(8, Math.pow(2, failures));
    window.setTimeout(refresh, seconds * 1000 * factor);
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("wall-live-content");
        if (!fresh) { throw new Error("no wall content in the response"); }
        live.replaceChildren(document.adoptNode(fresh));
        swaps += 1;
        live.setAttribute("data-refresh-count", String(swaps));
        failures = 0;
        if (status) { status.hidden = true; }
      })
      .catch(function () {
        failures += 1;
        if (status) { status.hidden = false; }
      })
      .then(schedule);
  }

  schedule();
})();
