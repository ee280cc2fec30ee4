// The monitoring page's two actions, sent with the optional bearer token: "Validate now" and
// "Upload realised closes". Each shows its answer in its <output>, and reloads the page when something changed.
(function () {
  "use strict";

  function validateMessage(body) {
    if (body.due === 0) {
      return {kind: "warn", text: "Nothing to validate: no pending forecast has its target date in the last " +
        body.days_back + " days. For forecasts on older data, raise Days back."};
    }
    var text = "Validated " + body.validated + " of " + body.due + " forecasts due.";
    if (body.still_pending) { text += " " + body.still_pending + " still wait for a close."; }
    if (body.skipped_unknown) { text += " " + body.skipped_unknown + " have no ticker."; }
    if (body.errors && body.errors.length) { text += " Price source problems: " + body.errors.length + "."; }
    return {kind: body.validated === body.due ? "ok" : "warn", text: text, changed: body.validated > 0};
  }

  function actualsMessage(body) {
    var text = "Stored " + body.stored + " new or changed closes of " + body.ticker + " (" + body.rows +
      " rows, " + body.first_date + " to " + body.last_date + ").";
    if (body.warning) { return {kind: "warn", text: text + " Warning: " + body.warning + "."}; }
    return {kind: "ok", text: text, changed: body.stored > 0};
  }

  function send(form, event) {
    event.preventDefault();
    var output = form.querySelector("output");
    var headers = {};
    if (form.elements.token && form.elements.token.value) {
      headers.Authorization = "Bearer " + form.elements.token.value;
    }
    var request;
    var describe;
    if (form.id === "validate-form") {
      request = fetch(form.action + "?days_back=" + encodeURIComponent(form.elements.days_back.value),
        {method: "POST", headers: headers});
      describe = validateMessage;
    } else {
      var data = new FormData(form);
      data.delete("token");
      request = fetch(form.action, {method: "POST", headers: headers, body: data});
      describe = actualsMessage;
    }
    var button = form.querySelector("button");
    button.disabled = true;
    output.textContent = "Working...";
    output.className = "";
    request
      .then(function (response) {
        return response.json().then(function (body) { return {ok: response.ok, body: body}; });
      })
      .then(function (result) {
        // textContent, never innerHTML: the answers are server text, but nothing here is trusted as markup.
        var shown = result.ok ? describe(result.body) : {kind: "error", text: result.body.message || "failed"};
        output.textContent = shown.text;
        output.className = shown.kind;
        if (shown.changed) { setTimeout(function () { window.location.reload(); }, 2500); }
      })
      .catch(function (err) { output.textContent = "The request failed: " + err; output.className = "error"; })
      .then(function () { button.disabled = false; });
  }

  document.querySelectorAll("form.js-action").forEach(function (form) {
    form.addEventListener("submit", function (event) { send(form, event); });
  });
})();
