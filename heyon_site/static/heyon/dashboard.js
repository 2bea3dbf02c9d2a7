// Sizes the dashboard's bars from their data-height (percent). Without JavaScript the
// bars stay flat and the table below the chart carries the same figures.
(function () {
  "use strict";
  document.querySelectorAll(".dashboard-chart .bar[data-height]").forEach(function (bar) {
    bar.style.height = Math.max(1, parseInt(bar.dataset.height, 10) || 0) + "%";
  });
})();
