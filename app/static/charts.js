// Draw every <div class="chart" data-figure="..."> with plotly.js (served by the app from the plotly package).
(function () {
  "use strict";
  function draw() {
    var charts = document.querySelectorAll(".chart[data-figure]");
    charts.forEach(function (element) {
      var figure = JSON.parse(element.getAttribute("data-figure"));
      window.Plotly.newPlot(element, figure.data, figure.layout, {
        responsive: true, displaylogo: false, displayModeBar: false
      }).then(function () { element.setAttribute("data-drawn", "true"); });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
