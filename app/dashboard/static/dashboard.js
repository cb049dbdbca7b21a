// The dashboard: reads the analytics endpoints, renders both panels and the chart, refreshes itself.
"use strict";
const API = "/api/brain/ai-assistant/analytics";
const REFRESH_MS = 30000;
const usd = (v) => "$" + Number(v || 0).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: v && Math.abs(v) < 1 ? 4 : 2 });
const pct = (v) => (100 * (v || 0)).toFixed(1) + "%";
const ms = (v) => v == null ? "–" : v >= 1000 ? (v / 1000).toFixed(2) + " s" : Math.round(v) + " ms";
let chart = null;

function headers() {
  // A key saved in this browser (localStorage "llmRouterKey") is sent when authentication is on.
  const key = window.localStorage && localStorage.getItem("llmRouterKey");
  return key ? { Authorization: "Bearer " + key } : {};
}

async function get(path) {
  const res = await fetch(API + path, { headers: headers() });
  if (res.status === 401 || res.status === 403) document.getElementById("key-form").hidden = false;
  if (!res.ok) throw new Error(path + ": HTTP " + res.status);
  return res.json();
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function renderProviders(data) {
  const body = document.querySelector("#providers tbody");
  body.replaceChildren();
  if (!data.providers.length) {
    const tr = document.createElement("tr");
    tr.appendChild(cell("no requests in this window", "muted")).colSpan = 7;
    body.appendChild(tr);
    return;
  }
  for (const p of data.providers) {
    const tr = document.createElement("tr");
    tr.dataset.provider = p.provider;
    tr.append(cell(p.provider), cell("★".repeat(p.rating) + "☆".repeat(5 - p.rating), "stars"),
      cell(pct(p.success_rate)), cell(ms(p.avg_response_time_ms)), cell(ms(p.p95_response_time_ms)),
      cell(p.requests.toLocaleString("en-US")), cell(usd(p.total_cost_usd)));
    body.appendChild(tr);
  }
}

function renderCosts(c) {
  document.getElementById("total-cost").textContent = usd(c.total_cost_usd);
  document.getElementById("baseline-cost").textContent = usd(c.baseline_cost_usd);
  document.getElementById("savings").textContent = usd(c.savings_usd) + " (" + c.savings_percent.toFixed(1) + "%)";
  document.getElementById("requests").textContent = c.requests.toLocaleString("en-US");
  const list = document.getElementById("top-spenders");
  list.replaceChildren();
  for (const s of c.top_spenders) {
    const li = document.createElement("li");
    li.textContent = s.provider + ": " + usd(s.total_cost_usd) + " (" + s.share_percent.toFixed(0) + "%)";
    list.appendChild(li);
  }
  if (!c.top_spenders.length) list.innerHTML = '<li class="muted">none yet</li>';
  renderChart(c.series);
}

function renderChart(series) {
  const hourly = series.granularity === "hour";
  const labels = series.points.map((p) => {
    const d = new Date(p.start);
    return hourly ? d.toISOString().slice(5, 13).replace("T", " ") + "h" : d.toISOString().slice(0, 10);
  });
  const datasets = [
    { type: "bar", label: "requests", data: series.points.map((p) => p.requests), yAxisID: "requests",
      backgroundColor: "rgba(47,111,223,0.25)" },
    { type: "line", label: "cost (USD)", data: series.points.map((p) => p.total_cost_usd), yAxisID: "cost",
      borderColor: "#d9480f", tension: 0.2 },
    { type: "line", label: "baseline (USD)", data: series.points.map((p) => p.baseline_cost_usd), yAxisID: "cost",
      borderColor: "#868e96", borderDash: [4, 4], tension: 0.2 },
  ];
  if (typeof Chart === "undefined") return;
  if (chart) {
    chart.data.labels = labels;
    chart.data.datasets.forEach((ds, i) => { ds.data = datasets[i].data; });
    chart.update();
    return;
  }
  chart = new Chart(document.getElementById("timeline"), {
    data: { labels, datasets },
    options: { animation: false, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
      scales: { requests: { position: "left", beginAtZero: true, title: { display: true, text: "requests" } },
                cost: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                        title: { display: true, text: "USD" } } } },
  });
}

function renderRecommendations(r) {
  const list = document.getElementById("recommendations");
  list.replaceChildren();
  for (const m of r.messages) {
    const li = document.createElement("li");
    li.textContent = m;
    list.appendChild(li);
  }
  if (!r.messages.length) list.innerHTML = '<li class="muted">not enough data yet</li>';
}

async function refresh() {
  const hours = document.getElementById("window").value;
  const label = document.getElementById("window").selectedOptions[0].textContent;
  document.getElementById("health-window").textContent = "(" + label + ")";
  document.getElementById("cost-window").textContent = "(" + label + ")";
  const status = document.getElementById("status");
  try {
    const [providers, costs, recs] = await Promise.all([
      get("/providers?window_hours=" + hours), get("/costs?window_hours=" + hours),
      get("/recommendations?window_hours=" + Math.max(hours, 24)),
    ]);
    renderProviders(providers);
    renderCosts(costs);
    renderRecommendations(recs);
    status.textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = "true";
  } catch (err) {
    status.textContent = "could not load: " + err.message;
  }
}

document.getElementById("window").addEventListener("change", refresh);
document.getElementById("key-form").addEventListener("submit", (event) => {
  // Kept in this browser only; sent as a bearer token to the analytics endpoints.
  event.preventDefault();
  localStorage.setItem("llmRouterKey", document.getElementById("key").value.trim());
  document.getElementById("key-form").hidden = true;
  refresh();
});
refresh();
setInterval(refresh, REFRESH_MS);
