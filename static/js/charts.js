// Trainer report charts: each <figure data-chart> holds its data as a table (read by screen
// readers and shown when scripts are off); this draws a Chart.js bar chart above the table.
(function () {
  "use strict";
  if (typeof window.Chart !== "function") return;
  var colours = ["#2e7d32", "#f9a825", "#9e9e9e", "#1565c0"];
  document.querySelectorAll("figure[data-chart]").forEach(function (figure) {
    var labels = JSON.parse(figure.dataset.labels || "[]");
    var series = JSON.parse(figure.dataset.series || "[]");
    var names = JSON.parse(figure.dataset.names || "[]");
    var table = figure.querySelector("table");
    var canvas = document.createElement("canvas");
    // The chart is a picture of the table that follows: one description, no double reading.
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", table && table.caption ? table.caption.textContent : "");
    canvas.dataset.drawn = "true";
    var box = document.createElement("div");
    box.className = "chart-box";
    box.appendChild(canvas);
    figure.insertBefore(box, figure.firstChild);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: series.map(function (values, i) {
          return { label: names[i] || "", data: values, backgroundColor: colours[i % colours.length] };
        }),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { stacked: series.length > 1 }, y: { stacked: series.length > 1, beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
    if (table) table.classList.add("visually-hidden");
  });
})();
