// The dashboard's only script. It keeps the element marked `data-live` up to date with the
// fragments the server pushes on that URL (server-sent events: the server sends one each time
// what the element shows changes), and asks before any form marked `data-confirm` submits.
(function () {
  "use strict";

  // Ask first: a purge, a replay, a cancel or a delete is made only once confirmed.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  var target = document.querySelector("[data-live]");
  if (!target || !window.EventSource) { return; }
  var source = new EventSource(target.getAttribute("data-live"));
  source.onmessage = function (event) { target.innerHTML = event.data; };
  // The session ended, or what the page shows is gone: a reload lands on the login page or
  // the "not found" page.
  source.addEventListener("ended", function () {
    source.close();
    window.location.reload();
  });
  // The browser reconnects on its own after a dropped stream; one it cannot open at all (the
  // server answered with a page, not a stream) means the session is gone: reload.
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) { window.location.reload(); }
  };
})();
