/**
 * The script in a report page: reads the series that htmlCharts.ts prepared from the JSON element and hands them
 * to Chart.js. Plain browser JavaScript in a string, inlined as it is. Chart.js draws labels on the canvas, so no
 * name from the data ever becomes markup. Animation is off so that a chart is drawn whole at once, and on paper.
 */
export const REPORT_CLIENT_SCRIPT = String.raw`(function () {
  'use strict';
  var Chart = window.Chart;
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var charts = data.charts;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = 'system-ui, sans-serif';
  Chart.defaults.color = '#222';
  var pct = function (v) { return v.toFixed(1) + ' %'; };
  var usd = function (v) { return '$' + v.toFixed(4); };
  // Ticks at round values: four significant digits hide floating-point tails such as 0.30000000000000004.
  var usdTick = function (v) { return '$' + Number(v.toPrecision(4)); };
  var canvas = function (id) { return document.getElementById(id); };

  // Each point of the cost-quality chart carries its own name beside it, for a reader without a tooltip (paper).
  var pointLabels = {
    id: 'pointLabels',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      ctx.save();
      ctx.font = '12px system-ui, sans-serif';
      ctx.fillStyle = '#222';
      chart.data.datasets.forEach(function (ds, i) {
        if (!chart.isDatasetVisible(i)) return;
        chart.getDatasetMeta(i).data.forEach(function (el, j) {
          var text = ds.data[j].label;
          var width = ctx.measureText(text).width;
          // Right of the point, or left of it where the name would run past the plot.
          var x = el.x + 8 + width > chart.chartArea.right ? el.x - 8 - width : el.x + 8;
          ctx.fillText(text, x, el.y - 8);
        });
      });
      ctx.restore();
    }
  };

  var cq = charts.costQuality;
  if (cq && cq.series.length > 0 && canvas('chart-cost-quality')) {
    new Chart(canvas('chart-cost-quality'), {
      type: 'scatter',
      data: {
        datasets: cq.series.map(function (s) {
          return { label: s.label, data: s.points, backgroundColor: s.color, borderColor: s.color, pointStyle: s.pointStyle, pointRadius: 7, pointHoverRadius: 9 };
        }).concat(cq.notMeasured.length === 0 ? [] : [{
          // No y to put them at: a legend entry with no points says so rather than inventing a value.
          label: 'quality not measured: ' + cq.notMeasured.map(function (p) { return p.label; }).join(', '),
          data: [], backgroundColor: '#999', borderColor: '#999', pointStyle: 'crossRot'
        }])
      },
      plugins: [pointLabels],
      options: {
        layout: { padding: { right: 24 } },
        scales: {
          // Grace keeps a point on the edge (always-best, the oracle at 100 %) and its name inside the plot.
          x: { grace: '8%', title: { display: true, text: 'cost per 1k requests (USD)' }, ticks: { callback: usdTick } },
          y: { grace: '5%', title: { display: true, text: 'quality retention vs always-best' }, ticks: { callback: function (v) { return Number(v.toPrecision(4)) + ' %'; } } }
        },
        plugins: {
          legend: { position: 'bottom' },
          tooltip: { callbacks: { label: function (c) { return c.raw.label + ': ' + usd(c.raw.x) + ' per 1k, retention ' + pct(c.raw.y); } } }
        }
      }
    });
  }

  var mix = charts.modelMix;
  if (mix && canvas('chart-model-mix')) {
    new Chart(canvas('chart-model-mix'), {
      type: 'bar',
      data: {
        labels: mix.labels,
        datasets: mix.series.map(function (s) { return { label: s.label, data: s.percent, requests: s.requests, backgroundColor: s.color }; })
      },
      options: {
        scales: {
          x: { stacked: true },
          y: { stacked: true, min: 0, max: 100, title: { display: true, text: 'share of requests answered' }, ticks: { callback: function (v) { return v + ' %'; } } }
        },
        plugins: {
          legend: { position: 'bottom' },
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ': ' + pct(c.raw) + ' (' + c.dataset.requests[c.dataIndex] + ' requests)'; } } }
        }
      }
    });
  }

  var es = charts.escalationSavings;
  if (es && canvas('chart-escalation-savings')) {
    new Chart(canvas('chart-escalation-savings'), {
      type: 'line',
      data: {
        labels: es.labels,
        datasets: [
          { label: 'escalation rate', data: es.escalationPercent, borderColor: '#e15759', backgroundColor: '#e15759', pointRadius: 4 },
          { label: 'cost savings vs always-best', data: es.savingsPercent, borderColor: '#59a14f', backgroundColor: '#59a14f', pointRadius: 4 }
        ]
      },
      options: {
        scales: { y: { suggestedMin: 0, suggestedMax: 100, ticks: { callback: function (v) { return v + ' %'; } } } },
        plugins: {
          legend: { position: 'bottom' },
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ': ' + pct(c.raw); } } }
        }
      }
    });
  }

  var lat = charts.latency;
  if (lat && canvas('chart-latency')) {
    new Chart(canvas('chart-latency'), {
      type: 'bar',
      data: { labels: lat.labels, datasets: [{ label: 'requests', data: lat.counts, backgroundColor: '#76b7b2' }] },
      options: {
        scales: {
          x: { title: { display: true, text: 'model time per request (calls in sequence, a race counted once)' } },
          y: { beginAtZero: true, title: { display: true, text: 'requests' }, ticks: { precision: 0 } }
        },
        plugins: { legend: { display: false } }
      }
    });
  }
})();
`;
