// Instant pre-checks: each chosen photo is sent to /verification/precheck/ and the
// hints (too dark, blurry, glare…) are shown under it before the form is submitted.
(function () {
  "use strict";
  var form = document.getElementById("submission-form");
  if (!form) return;
  var texts = document.getElementById("precheck-messages").dataset;
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function show(box, items, cls) {
    box.replaceChildren();
    items.forEach(function (text) {
      var line = document.createElement("div");
      line.className = cls;
      line.textContent = text;
      box.appendChild(line);
    });
  }

  form.querySelectorAll("input[type=file][data-photo-kind]").forEach(function (input) {
    input.addEventListener("change", function () {
      var file = input.files[0];
      var box = form.querySelector('[data-hints-for="' + input.name + '"]');
      var preview = form.querySelector('[data-preview-for="' + input.name + '"]');
      if (!file) { show(box, [], ""); preview.classList.add("d-none"); return; }
      preview.src = URL.createObjectURL(file);
      preview.classList.remove("d-none");
      show(box, [texts.checking], "text-body-secondary");
      var body = new FormData();
      body.append("kind", input.dataset.photoKind);
      body.append("photo", file);
      fetch(form.dataset.precheckUrl, { method: "POST", body: body, headers: { "X-CSRFToken": csrf }, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (result) {
          if (!result.ok) { show(box, [result.error], "text-danger"); return; }
          if (result.warnings.length) { show(box, result.warnings, "text-warning-emphasis"); }
          else { show(box, [texts.ok], "text-success"); }
        })
        .catch(function () { show(box, [texts.failed], "text-body-secondary"); });
    });
  });
})();
