// Review screen: rotate and zoom each photo; keyboard A approve, R reject, N next.
(function () {
  "use strict";
  var rotation = {};
  document.querySelectorAll("[data-rotate]").forEach(function (button) {
    button.addEventListener("click", function () {
      var kind = button.dataset.rotate;
      rotation[kind] = ((rotation[kind] || 0) + 90) % 360;
      document.getElementById("photo-" + kind).style.setProperty("--rotation", rotation[kind] + "deg");
    });
  });
  document.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      document.getElementById("photo-" + button.dataset.zoom).classList.toggle("zoomed");
    });
  });

  var decision = document.getElementById("decision-form");
  var next = document.getElementById("claim-next-form");
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest("textarea, input[type=text], select")) return;
    var key = event.key.toLowerCase();
    if (key === "n" && next) { event.preventDefault(); next.submit(); }
    if (!decision) return;
    if (key === "a") {
      event.preventDefault();
      decision.querySelector("input[name=decision][value=approve]").checked = true;
      decision.requestSubmit();
    } else if (key === "r") {
      event.preventDefault();
      decision.querySelector("input[name=decision][value=reject]").checked = true;
      var first = decision.querySelector("input[name=reason_codes]");
      if (first) first.focus();
    }
  });
})();
