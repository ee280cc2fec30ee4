// "Validate now": POST /monitoring/validate with the optional bearer token, show the summary, refresh the page.
(function () {
  "use strict";
  var form = document.getElementById("validate-form");
  if (!form) { return; }
  var output = document.getElementById("validate-result");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var days = form.elements.days_back.value;
    var headers = {};
    if (form.elements.token && form.elements.token.value) {
      headers.Authorization = "Bearer " + form.elements.token.value;
    }
    var button = form.querySelector("button");
    button.disabled = true;
    output.textContent = "Validating...";
    fetch(form.action + "?days_back=" + encodeURIComponent(days), {method: "POST", headers: headers})
      .then(function (response) {
        return response.json().then(function (body) { return {ok: response.ok, body: body}; });
      })
      .then(function (result) {
        // textContent, never innerHTML: the summary is server text, but nothing here is trusted as markup.
        output.textContent = result.ok ? result.body.summary : (result.body.message || "validation failed");
        output.className = result.ok ? "ok" : "error";
        if (result.ok && result.body.validated > 0) { setTimeout(function () { window.location.reload(); }, 1500); }
      })
      .catch(function (err) { output.textContent = "validation failed: " + err; output.className = "error"; })
      .then(function () { button.disabled = false; });
  });
})();
