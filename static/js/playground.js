// The playground streams its answer: the form posts to the stream URL and the page reads the SSE events as they
// arrive. Without this file the form posts normally and the page shows the whole answer.
(function () {
  "use strict";

  function start() {
    var form = document.getElementById("playground-form");
    if (!form || !window.fetch || !window.TextDecoder || form.dataset.bound) return;
    form.dataset.bound = "1";
    var answer = document.getElementById("pg-answer");
    var reasoning = document.getElementById("pg-reasoning");
    var error = document.getElementById("pg-error");
    var receipt = document.getElementById("pg-receipt");
    var send = document.getElementById("pg-send");
    var stop = document.getElementById("pg-stop");
    var controller = null;

    function showError(message) {
      error.textContent = message;
      error.hidden = false;
    }

    function loadReceipt(requestId) {
      if (!requestId) return;
      var url = form.dataset.receiptUrl.replace("REQUEST_ID", encodeURIComponent(requestId));
      htmx.ajax("GET", url, { target: receipt, swap: "innerHTML" });
    }

    function refreshCode() {
      fetch(form.dataset.codeUrl, { method: "POST", body: new FormData(form), credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html) return;
          var holder = document.getElementById("pg-code");
          if (holder) {
            holder.outerHTML = html;
            var fresh = document.getElementById("pg-code");
            if (fresh) htmx.process(fresh);
            document.dispatchEvent(new CustomEvent("htmx:load", { detail: { elt: fresh || document.body } }));
          }
        });
    }

    function handleEvent(data) {
      if (data === "[DONE]") return;
      var chunk;
      try { chunk = JSON.parse(data); } catch (e) { return; }
      if (chunk.error) { showError(chunk.error.message || "error"); return; }
      (chunk.choices || []).forEach(function (choice) {
        var delta = choice.delta || {};
        if (delta.reasoning_content) {
          reasoning.hidden = false;
          reasoning.textContent += delta.reasoning_content;
        }
        if (delta.content) answer.textContent += delta.content;
      });
    }

    async function run(event) {
      event.preventDefault();
      answer.textContent = "";
      reasoning.textContent = "";
      reasoning.hidden = true;
      error.hidden = true;
      receipt.innerHTML = "";
      send.disabled = true;
      stop.hidden = false;
      controller = new AbortController();
      var requestId = null;
      try {
        var response = await fetch(form.dataset.streamUrl, {
          method: "POST", body: new FormData(form), credentials: "same-origin", signal: controller.signal,
        });
        requestId = response.headers.get("X-Request-Id");
        if (!response.ok || !(response.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
          var text = await response.text();
          var message = text;
          try { message = JSON.parse(text).error.message; } catch (e) { /* not the gateway's JSON */ }
          showError(message || String(response.status));
        } else {
          var reader = response.body.getReader();
          var decoder = new TextDecoder();
          var buffer = "";
          for (;;) {
            var part = await reader.read();
            if (part.done) break;
            buffer += decoder.decode(part.value, { stream: true });
            var events = buffer.split(/\r?\n\r?\n/);
            buffer = events.pop();
            events.forEach(function (raw) {
              raw.split(/\r?\n/).forEach(function (line) {
                if (line.indexOf("data:") === 0) handleEvent(line.slice(5).trim());
              });
            });
          }
        }
      } catch (e) {
        if (e.name !== "AbortError") showError(String(e));
      } finally {
        send.disabled = false;
        stop.hidden = true;
        controller = null;
        loadReceipt(requestId);
      }
    }

    form.addEventListener("submit", run);
    stop.addEventListener("click", function () { if (controller) controller.abort(); });
    form.addEventListener("change", refreshCode);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
