// Hover and keyboard read-outs for the server-drawn charts. No library; the page works without it.
// Each chart <svg data-hover="ID"> has its points in <script id="ID" type="application/json">:
// [{x: 0..1000 across the plot, y: pixels from the chart's top, text: the read-out}], sorted by x.
(function () {
  "use strict";
  var PLOT_WIDTH = 1000;

  function bind(svg) {
    var dataNode = document.getElementById(svg.getAttribute("data-hover"));
    if (!dataNode) { return; }
    var points = JSON.parse(dataNode.textContent);
    if (!points.length) { return; }
    var hover = svg.querySelector(".hover");
    var line = hover.querySelector("line");
    var dot = hover.querySelector("circle");
    var tooltip = svg.parentNode.querySelector(".tooltip");
    var readout = document.getElementById(svg.id + "-readout");
    var current = -1;

    function nearest(x) {
      var lo = 0, hi = points.length - 1;
      while (hi - lo > 1) {
        var mid = (lo + hi) >> 1;
        if (points[mid].x < x) { lo = mid; } else { hi = mid; }
      }
      return Math.abs(points[lo].x - x) <= Math.abs(points[hi].x - x) ? lo : hi;
    }

    function show(index) {
      current = Math.max(0, Math.min(points.length - 1, index));
      var p = points[current];
      var pct = p.x / PLOT_WIDTH * 100;
      line.setAttribute("x1", pct + "%"); line.setAttribute("x2", pct + "%");
      dot.setAttribute("cx", pct + "%"); dot.setAttribute("cy", p.y);
      hover.setAttribute("visibility", "visible");
      if (tooltip) {
        tooltip.textContent = p.text;
        tooltip.hidden = false;
        tooltip.style.left = pct < 50 ? (pct + 1) + "%" : "auto";
        tooltip.style.right = pct < 50 ? "auto" : (101 - pct) + "%";
      }
      if (readout) { readout.textContent = p.text; }
    }

    function hide() {
      hover.setAttribute("visibility", "hidden");
      if (tooltip) { tooltip.hidden = true; }
    }

    svg.addEventListener("pointermove", function (event) {
      var box = svg.getBoundingClientRect();
      if (!box.width) { return; }
      show(nearest((event.clientX - box.left) / box.width * PLOT_WIDTH));
    });
    svg.addEventListener("pointerleave", hide);
    svg.addEventListener("blur", hide);
    svg.addEventListener("keydown", function (event) {
      var step = { ArrowLeft: -1, ArrowRight: 1, PageDown: -7, PageUp: 7 }[event.key];
      if (event.key === "Home") { show(0); } else if (event.key === "End") { show(points.length - 1); }
      else if (step) { show(current < 0 ? points.length - 1 : current + step); } else { return; }
      event.preventDefault();
    });
  }

  var charts = document.querySelectorAll("svg[data-hover]");
  for (var i = 0; i < charts.length; i++) { bind(charts[i]); }
}());
