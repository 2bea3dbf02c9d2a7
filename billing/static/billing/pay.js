// The payment page: the bank card's fields show only while "Bank card" is the chosen
// method. Without this script every field shows and the server ignores the card fields
// for the other methods.
(function () {
  "use strict";
  var form = document.querySelector("form[data-pay-form]");
  if (!form) return;
  var cardFields = form.querySelector("[data-card-fields]");
  var radios = form.querySelectorAll("input[name=method]");

  function follow() {
    var chosen = form.querySelector("input[name=method]:checked");
    cardFields.hidden = !(chosen && chosen.value === "card");
  }

  radios.forEach(function (radio) { radio.addEventListener("change", follow); });
  follow();
})();
