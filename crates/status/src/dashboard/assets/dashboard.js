// userhub operator dashboard: polls /ops/api/overview with the operator token and renders it.
// Every value is written with textContent or as an SVG attribute, never parsed as HTML.
"use strict";

const REFRESH_MS = 2000;
const TOKEN_KEY = "userhub.operatorToken";
let timer = null;

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function svg(tag, attributes) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
  return node;
}

function readToken() {
  const match = /^#token=(.+)$/.exec(window.location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", window.location.pathname);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function showLogin(message) {
  document.getElementById("dashboard").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message || "";
  if (timer) { clearInterval(timer); timer = null; }
}

function number(value) {
  return value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US");
}

function progressBar(item) {
  const bar = element("div", null, "bar");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", String(item.progress_percentage));
  const fill = element("div", null, item.stalled ? "fill stalled" : "fill");
  fill.style.width = `${Math.max(0, Math.min(100, item.progress_percentage))}%`;
  bar.append(fill, element("span", `${item.progress_percentage}%`, "text"));
  return bar;
}

// Uploads: how much of each file has arrived, and the task it became.
function renderUploads(uploads) {
  const body = document.querySelector("#uploads tbody");
  body.replaceChildren();
  for (const upload of uploads) {
    const row = element("tr");
    row.dataset.uploadId = upload.upload_id;
    const progress = element("td");
    progress.append(progressBar(upload));
    row.append(
      element("td", upload.domain, "domain"),
      element("td", upload.upload_id),
      element("td", upload.filename || "–"),
      progress,
      element("td", `${number(upload.received)} / ${number(upload.length)}`, "bytes"),
      element("td", upload.task_id ? String(upload.task_id) : "–", "task"),
    );
    body.append(row);
  }
  document.getElementById("no-uploads").hidden = uploads.length > 0;
}

// The row's controls: a cancel button while the task is open and not canceled yet.
function controls(task) {
  const cell = element("td", null, "controls");
  if (task.state === "completed" || task.cancel_requested_at) return cell;
  const button = element("button", "Cancel", "cancel");
  button.type = "button";
  button.addEventListener("click", () => cancelTask(task, button));
  cell.append(button);
  return cell;
}

async function cancelTask(task, button) {
  const question = `Cancel task ${task.task_id} of ${task.domain}? Records not applied yet will fail with CANCELED.`;
  if (!window.confirm(question)) return;
  button.disabled = true;
  const token = sessionStorage.getItem(TOKEN_KEY);
  const response = await fetch(`/ops/api/tasks/${encodeURIComponent(task.task_id)}/cancel`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  }).catch((error) => ({ ok: false, status: 0, json: async () => ({ error: { message: error.message } }) }));
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    document.getElementById("updated").textContent =
      `cancel of ${task.task_id} failed: ${body.error ? body.error.message : `HTTP ${response.status}`}`;
    button.disabled = false;
    return;
  }
  refresh();
}

function renderTasks(tasks) {
  const body = document.querySelector("#tasks tbody");
  body.replaceChildren();
  for (const task of tasks) {
    const row = element("tr");
    row.dataset.taskId = String(task.task_id);
    const state = element("td", task.outcome ? `${task.state} · ${task.outcome}` : task.state);
    if (task.stalled) state.append(element("span", "stalled", "badge"));
    if (task.dry_run) state.append(element("span", "dry run", "badge"));
    if (task.parent_task_id) {
      const kind = task.action === "revert_profiles" ? "revert" : "retry";
      state.append(element("span", `${kind} of ${task.parent_task_id}`, "badge"));
    }
    if (task.cancel_requested_at && task.state !== "completed") {
      state.append(element("span", "canceling", "badge"));
    }
    const progress = element("td");
    progress.append(progressBar(task));
    row.append(
      element("td", task.domain, "domain"),
      element("td", task.task_id),
      element("td", task.action),
      state,
      progress,
      element("td", `${number(task.processed)} / ${number(task.total)}`, "processed"),
      element("td", number(task.failed)),
      element("td", task.records_per_second === null || task.records_per_second === undefined
        ? "–" : Math.round(task.records_per_second).toLocaleString("en-US")),
      controls(task),
    );
    body.append(row);
  }
  document.getElementById("no-tasks").hidden = tasks.length > 0;
}

function renderChart(series) {
  const chart = document.getElementById("throughput-chart");
  chart.replaceChildren();
  const width = 900, height = 200, left = 60, bottom = 20, top = 10;
  const points = series.points;
  const peak = Math.max(1, ...points.map(([, records]) => records));
  const slot = (width - left) / Math.max(1, points.length);
  chart.append(svg("text", { x: 4, y: top + 10 }));
  chart.lastChild.textContent = `${number(peak)}`;
  chart.append(svg("text", { x: 4, y: height - bottom }));
  chart.lastChild.textContent = "0";
  points.forEach(([start, records], index) => {
    const barHeight = ((height - bottom - top) * records) / peak;
    const rect = svg("rect", {
      class: "bucket",
      x: left + index * slot + 1,
      y: height - bottom - barHeight,
      width: Math.max(1, slot - 2),
      height: barHeight,
      "data-records": records,
    });
    const title = svg("title");
    title.textContent = `${new Date(start * 1000).toLocaleTimeString()}: ${number(records)} records`;
    rect.append(title);
    chart.append(rect);
  });
  const first = points.length ? new Date(points[0][0] * 1000).toLocaleTimeString() : "";
  const label = svg("text", { x: left, y: height - 4 });
  label.textContent = first;
  chart.append(label);
  const now = svg("text", { x: width - 60, y: height - 4 });
  now.textContent = "now";
  chart.append(now);
}

function renderQueues(queues) {
  const body = document.querySelector("#queues tbody");
  body.replaceChildren();
  for (const queue of queues) {
    const row = element("tr");
    row.append(element("td", queue.action), element("td", number(queue.work)),
      element("td", number(queue.retry)), element("td", number(queue.dead), queue.dead > 0 ? "error" : ""));
    body.append(row);
  }
}

function renderStalled(tasks) {
  const list = document.getElementById("stalled");
  list.replaceChildren();
  const stalled = tasks.filter((task) => task.stalled);
  for (const task of stalled) {
    list.append(element("li", `${task.domain} / ${task.task_id} (${task.action}) since ${task.stalled_since}: ${task.stall_reason || "no progress"}`));
  }
  if (stalled.length === 0) list.append(element("li", "None.", "muted"));
}

function render(overview) {
  document.getElementById("login").hidden = true;
  document.getElementById("dashboard").hidden = false;
  document.getElementById("updated").textContent = `updated ${new Date(overview.generated_at).toLocaleTimeString()}`;
  const points = overview.throughput.points;
  const latest = points.length ? points[points.length - 1][1] : 0;
  document.getElementById("open-tasks").textContent = number(overview.open_tasks);
  document.getElementById("current-rate").textContent = number(Math.round(latest / overview.throughput.bucket_seconds));
  document.getElementById("stalled-count").textContent = number(overview.stalled_tasks);
  document.getElementById("dead-letters").textContent = number(overview.dead_lettered_chunks);
  document.getElementById("broker-state").textContent = overview.broker;
  renderTasks(overview.tasks);
  renderUploads(overview.uploads);
  renderChart(overview.throughput);
  renderQueues(overview.queues);
  renderStalled(overview.tasks);
}

async function refresh() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return showLogin("");
  let response;
  try {
    response = await fetch("/ops/api/overview", { headers: { Authorization: `Bearer ${token}` } });
  } catch (error) {
    document.getElementById("updated").textContent = `cannot reach the server (${error.message})`;
    return;
  }
  if (response.status === 401 || response.status === 404) {
    const body = await response.json().catch(() => ({}));
    sessionStorage.removeItem(TOKEN_KEY);
    return showLogin(body.error ? body.error.message : `HTTP ${response.status}`);
  }
  if (!response.ok) {
    document.getElementById("updated").textContent = `the server answered ${response.status}; retrying`;
    return;
  }
  render(await response.json());
  if (!timer) timer = setInterval(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, document.getElementById("token-input").value);
    refresh();
  });
  readToken();
  refresh();
});
