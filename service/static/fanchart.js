// Hover and keyboard read-out for the server-drawn fan chart. No library; the page works without it.
(function () {
  "use strict";
  var svg = document.getElementById("fan-chart");
  var dataNode = document.getElementById("chart-data");
  if (!svg || !dataNode) { return; }
  var points = JSON.parse(dataNode.textContent);
  var hover = document.getElementById("hover");
  var line = document.getElementById("hover-line");
  var dot = document.getElementById("hover-dot");
  var tooltip = document.getElementById("tooltip");
  var readout = document.getElementById("chart-readout");
  var unit = dataNode.getAttribute("data-unit") || "";
  var current = -1;

  function fmt(v) { return v.toFixed(2); }

  function describe(p) {
    if (p.value !== undefined) { return p.date + ": observed " + fmt(p.value) + " " + unit; }
    return p.date + ": forecast " + fmt(p.mean) + " " + unit + "; 80 % " + fmt(p.lower_80) + "–" + fmt(p.upper_80) +
      "; 95 % " + fmt(p.lower_95) + "–" + fmt(p.upper_95);
  }

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
    line.setAttribute("x1", p.x); line.setAttribute("x2", p.x);
    dot.setAttribute("cx", p.x); dot.setAttribute("cy", p.y);
    hover.setAttribute("visibility", "visible");
    var text = describe(p);
    tooltip.textContent = text;
    tooltip.hidden = false;
    var box = svg.viewBox.baseVal;
    var share = p.x / box.width;
    tooltip.style.left = share < 0.6 ? (share * 100 + 1) + "%" : "auto";
    tooltip.style.right = share < 0.6 ? "auto" : ((1 - share) * 100 + 1) + "%";
    readout.textContent = text;
  }

  function hide() {
    hover.setAttribute("visibility", "hidden");
    tooltip.hidden = true;
  }

  svg.addEventListener("pointermove", function (event) {
    var matrix = svg.getScreenCTM();
    if (!matrix) { return; }
    var pt = svg.createSVGPoint();
    pt.x = event.clientX; pt.y = event.clientY;
    show(nearest(pt.matrixTransform(matrix.inverse()).x));
  });
  svg.addEventListener("pointerleave", hide);
  svg.addEventListener("blur", hide);
  svg.addEventListener("keydown", function (event) {
    var step = { ArrowLeft: -1, ArrowRight: 1, PageDown: -7, PageUp: 7 }[event.key];
    if (event.key === "Home") { show(0); } else if (event.key === "End") { show(points.length - 1); }
    else if (step) { show(current < 0 ? points.length - 1 : current + step); } else { return; }
    event.preventDefault();
  });
}());
