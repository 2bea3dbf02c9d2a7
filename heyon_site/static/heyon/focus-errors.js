// A form sent back with errors puts the keyboard focus on the first field to fix (or on the
// form's own error message when no field is marked), not at the top of the page: someone on
// a keyboard or a screen reader lands on the problem, read with its message (the field
// names it in aria-describedby), instead of tabbing through the header to look for it.
(function () {
  "use strict";
  if (document.activeElement && document.activeElement !== document.body) return;  // an autofocus won
  var main = document.getElementById("main");
  if (!main) return;
  var target = main.querySelector("form .is-invalid:not([type=hidden]):not([disabled])");
  if (!target) {
    target = main.querySelector("form .alert-danger");
    if (!target) return;
    target.setAttribute("tabindex", "-1");
  }
  target.focus();
})();
