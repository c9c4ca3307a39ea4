// payrun console: progressive enhancement only. Every action works as a
// plain form post without this file; with it, the upload page checks a
// file as soon as it is chosen or dropped, the batch page keeps its
// progress and rows current without a reload, and copy buttons copy.
(function () {
  "use strict";
  var FRAGMENT = "X-Console-Fragment";

  function onReady(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  // Copy buttons: data-copy names the input whose value to copy.
  function setupCopy(root) {
    root.addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest("button[data-copy]");
      if (!b) return;
      var input = document.getElementById(b.getAttribute("data-copy"));
      if (!input) return;
      var done = function () {
        var label = b.textContent;
        b.textContent = b.getAttribute("data-copied") || label;
        setTimeout(function () { b.textContent = label; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
      } else {
        input.focus(); input.select();
        try { if (document.execCommand("copy")) done(); } catch (err) { /* selected: the person copies */ }
      }
    });
  }

  // The upload page: check on choose or drop; check and submit in place.
  function setupUpload() {
    var form = document.getElementById("upload-form");
    if (!form) return;
    var file = document.getElementById("u-file");
    var drop = document.getElementById("drop");
    var hint = form.querySelector(".js-only");
    if (hint) hint.hidden = false;
    ["dragenter", "dragover"].forEach(function (t) {
      drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      drop.addEventListener(t, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) {
        file.files = e.dataTransfer.files;
        send("check");
      }
    });
    file.addEventListener("change", function () { if (file.files.length) send("check"); });
    form.addEventListener("submit", function (e) {
      var s = e.submitter;
      if (!s || (s.id !== "check" && s.id !== "submit")) return; // the errors file downloads as a form post
      e.preventDefault();
      send(s.id);
    });
    var busy = false;
    function send(action) {
      if (busy || !file.files.length) return;
      busy = true;
      var buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      var data = new FormData(form);
      fetch("/console/upload?action=" + action, { method: "POST", body: data, headers: { "X-Console-Fragment": "result" }, credentials: "same-origin" })
        .then(function (resp) {
          var to = resp.headers.get("X-Console-Location");
          if (to) { window.location.assign(to); return null; }
          return resp.text().then(function (html) { replace("result", html); });
        })
        .catch(function () { form.submit(); })
        .finally(function () { busy = false; buttons.forEach(function (b) { b.disabled = false; }); });
    }
  }

  // replace puts the element with id from html in place of the page's.
  function replace(id, html, keepFocus) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    var fresh = tpl.content.getElementById(id);
    var old = document.getElementById(id);
    if (!fresh || !old) return false;
    if (keepFocus && old.contains(document.activeElement)) return false; // someone is using it: next time
    if (old.innerHTML === fresh.innerHTML && old.getAttribute("data-final") === fresh.getAttribute("data-final")) return true;
    old.replaceWith(fresh);
    return true;
  }

  // The batch page: poll its live part until the batch is final.
  function setupLive() {
    var live = document.getElementById("live");
    if (!live) return;
    var note = live.querySelector(".live-note");
    if (note) note.hidden = false;
    var url = live.getAttribute("data-live");
    var timer = null;
    function tick() {
      var cur = document.getElementById("live");
      if (!cur || cur.getAttribute("data-final") === "true") return;
      fetch(url, { headers: { "X-Console-Fragment": "update" }, credentials: "same-origin" })
        .then(function (resp) { if (!resp.ok) throw new Error(resp.status); return resp.text(); })
        .then(function (html) {
          replace("live", html, true);
          replace("rows-table", html, true);
          var n = document.getElementById("live");
          var nn = n && n.querySelector(".live-note");
          if (nn) nn.hidden = false;
        })
        .catch(function () { /* try again next tick */ })
        .finally(function () { timer = setTimeout(tick, document.hidden ? 5000 : 1500); });
    }
    timer = setTimeout(tick, 1500);
  }

  onReady(function () {
    document.documentElement.classList.add("js");
    setupCopy(document);
    setupUpload();
    setupLive();
  });
})();
