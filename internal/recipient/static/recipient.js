// The recipient's page (internal/recipient): shows the bank's tokenization
// widget and sends the encrypted card it posts to this page back to
// payrun. The card number stays inside the widget's frame (the bank's
// origin); only the hashes the widget returns pass here.
(function () {
  "use strict";
  var el = document.querySelector("[data-public-token]");
  var status = document.getElementById("status");
  if (!el) { return; }
  var d = el.dataset;
  var Widget = window[d.widgetGlobal];
  if (typeof Widget !== "function") {
    status.textContent = d.failed + " the bank's form did not load.";
    return;
  }
  new Widget({publicToken: d.publicToken, container: el.id}).render();
  var done = false;
  window.addEventListener("message", function (ev) {
    if (ev.origin !== d.widgetOrigin || done) { return; }
    var m = ev.data;
    if (!m || m.type !== d.messageType) { return; }
    if (m.status !== "success" || !m.encrypted_card) {
      status.textContent = d.failed + " " + ((m.error && m.error.description) || "");
      return;
    }
    done = true;
    fetch(d.cardUrl, {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({encrypted_card: m.encrypted_card}), credentials: "omit"})
      .then(function (r) { return r.json().then(function (a) { return {ok: r.ok, a: a}; }); })
      .then(function (x) {
        if (x.ok) {
          status.textContent = d.saved + (x.a.last4 ? " …" + x.a.last4 : "");
          document.body.classList.add("saved");
          el.hidden = true;
        } else {
          done = false;
          status.textContent = d.failed + " " + (x.a.error ? x.a.error.message : "");
        }
      }, function () { done = false; status.textContent = d.failed; });
  });
})();
