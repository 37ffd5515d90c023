// Live bulk progress, report and rows: the page listens to the batch's server-sent events (no polling loop here, no reload).
(function () {
  function watch() {
    var box = document.getElementById("progress");
    if (!box || !box.dataset.events || box.dataset.listening) return;
    box.dataset.listening = "1";
    var source = new EventSource(box.dataset.events);
    function show(e) {
      var p = JSON.parse(e.data);
      document.getElementById("progress-bar").value = p.percent;
      document.getElementById("progress-percent").textContent = p.percent + "%";
      document.getElementById("progress-state").textContent = p.state;
      document.getElementById("progress-settled").textContent = p.settled;
      document.getElementById("progress-paid").textContent = p.paid;
      document.getElementById("progress-failed").textContent = p.failed;
      box.dataset.percent = p.percent;
    }
    source.addEventListener("progress", show);
    // The report and the rows' statuses, rendered by the server as the page renders them: swapped in place.
    source.addEventListener("live", function (e) {
      var live = document.getElementById("batch-live");
      if (live) live.innerHTML = e.data;
    });
    source.addEventListener("finished", function (e) { show(e); box.dataset.finished = "1"; source.close(); });
    source.addEventListener("missing", function () { source.close(); });
  }
  document.addEventListener("DOMContentLoaded", watch);
  document.addEventListener("htmx:afterSettle", watch);
})();
