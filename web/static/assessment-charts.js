// The assessment page's charts, drawn by ECharts from the figures the page was rendered with.
(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const words = JSON.parse(document.getElementById("chart-words").textContent);
  const draw = (id, option) => {
    const chart = echarts.init(document.getElementById(id), null, { renderer: "svg" });
    chart.setOption(Object.assign({ animation: false, tooltip: {} }, option));
    document.getElementById(id).dataset.drawn = "true";
  };
  draw("chart-weekly", {
    title: { text: words.weekly, textStyle: { fontSize: 14 } },
    legend: { data: [words.reported, words.closed], top: 24 },
    grid: { top: 60 },
    xAxis: { type: "category", data: data.weeks },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: words.reported, type: "line", data: data.reported },
      { name: words.closed, type: "line", data: data.closed },
    ],
  });
  draw("chart-on-time", {
    title: { text: words.on_time, textStyle: { fontSize: 14 } },
    grid: { top: 40, bottom: 80 },
    xAxis: { type: "category", data: data.departments, axisLabel: { rotate: 40 } },
    yAxis: { type: "value", max: 100 },
    series: [{ type: "bar", data: data.on_time }],
  });
  const zones = Math.max(1, ...data.grid_heat.map((cell) => cell[1] + 1));
  const numbers = Math.max(1, ...data.grid_heat.map((cell) => cell[0] + 1));
  draw("chart-grid-heat", {
    title: { text: words.grid_heat, textStyle: { fontSize: 14 } },
    grid: { top: 40, bottom: 60 },
    xAxis: { type: "category", data: Array.from({ length: numbers }, (_, i) => words.grid.replace("{n}", () => `${i + 1}`)) },
    yAxis: { type: "category", data: Array.from({ length: zones }, (_, i) => words.zone.replace("{n}", () => String(i + 1).padStart(2, "0"))) },
    visualMap: { min: 0, max: Math.max(1, ...data.grid_heat.map((cell) => cell[2])), orient: "horizontal", left: "center", bottom: 0, calculable: true },
    series: [{ type: "heatmap", data: data.grid_heat, label: { show: true } }],
  });
})();
