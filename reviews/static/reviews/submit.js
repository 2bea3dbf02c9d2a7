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

  // The Resident ID number's check digit (GB 11643), checked as the customer types, before
  // any photo is sent: the server checks it again, with the birth date and region.
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CHECK = "10X98765432";
  function idProblem(value) {
    var number = value.replace(/\s+/g, "").toUpperCase();
    if (!number) return "";
    if (!/^\d{17}[\dX]$/.test(number)) return number.length >= 18 ? texts.idLength : null;
    var sum = 0;
    for (var i = 0; i < 17; i++) sum += parseInt(number.charAt(i), 10) * WEIGHTS[i];
    return CHECK.charAt(sum % 11) === number.charAt(17) ? "" : texts.idChecksum;
  }
  var idInput = form.querySelector("input[data-resident-id]");
  if (idInput) {
    var idFeedback = document.createElement("div");
    idFeedback.className = "invalid-feedback";
    idFeedback.setAttribute("data-testid", "id-number-live-check");
    idInput.insertAdjacentElement("afterend", idFeedback);
    var checkId = function (final) {
      var problem = idProblem(idInput.value);
      if (problem === null) problem = final ? texts.idLength : "";  // still typing
      idFeedback.textContent = problem;
      idInput.classList.toggle("is-invalid", Boolean(problem));
      idInput.setCustomValidity(problem);
    };
    idInput.addEventListener("input", function () { checkId(false); });
    idInput.addEventListener("blur", function () { checkId(true); });
    form.addEventListener("submit", function (event) {
      checkId(true);
      if (idInput.validationMessage) { event.preventDefault(); idInput.focus(); }
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
