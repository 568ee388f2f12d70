// Operator dashboard: reads /v1 with the X-API-Key kept in sessionStorage. Every piece of
// text goes into the page through textContent or attributes, never parsed as HTML. The chart
// is in chart.js.
"use strict";

const KEY_STORAGE = "prepaid-gateway.api-key";
const LEDGER_ENTRIES = 200; // the newest entries shown for the selected account
const REFRESH_MS = 60000;

const state = { summary: null, selected: null, timer: null };

// ---- DOM helpers ----------------------------------------------------------------------

function $(id) {
  return document.getElementById(id);
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  applyProps(node, props);
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function applyProps(node, props) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

function pill(text, tone) {
  return el("span", { class: `pill ${tone}` }, text);
}

// ---- formatting -----------------------------------------------------------------------

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit",
  hourCycle: "h23",
});

function when(iso) {
  return iso ? dateTime.format(new Date(iso)) : "—";
}

function ago(iso, asOf) {
  if (!iso) return "never";
  const seconds = Math.max(0, (new Date(asOf) - new Date(iso)) / 1000);
  if (seconds < 90) return "just now";
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

function money(amount, currency) {
  return amount === null || amount === undefined ? "—" : `${amount} ${currency}`;
}

function isNegative(decimal) {
  return typeof decimal === "string" && decimal.startsWith("-");
}

function isZero(decimal) {
  return Number(decimal) === 0;
}

function humanize(word) {
  return String(word).replaceAll("_", " ");
}

// ---- API ------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const response = await fetch(path, {
    ...options,
    headers: { Accept: "application/json", "X-API-Key": key || "", ...(options.headers || {}) },
  });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || detail;
      if (typeof detail !== "string") detail = JSON.stringify(detail);
    } catch (_ignored) {
      // not problem+json: keep the status line
    }
    throw new ApiError(response.status, detail);
  }
  return response.json();
}

// ---- sign-in --------------------------------------------------------------------------

function showLogin(message) {
  clearInterval(state.timer);
  $("board").hidden = true;
  $("session").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("api-key").focus();
}

async function signIn(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY_STORAGE, key);
  $("api-key").value = "";
  await start();
}

function signOut() {
  sessionStorage.removeItem(KEY_STORAGE);
  state.summary = null;
  state.selected = null;
  showLogin("");
}

async function start() {
  if (!sessionStorage.getItem(KEY_STORAGE)) {
    showLogin("");
    return;
  }
  const loaded = await refresh();
  if (!loaded) return;
  $("login").hidden = true;
  $("board").hidden = false;
  $("session").hidden = false;
  clearInterval(state.timer);
  state.timer = setInterval(refresh, REFRESH_MS);
}

function failed(error, where) {
  if (error instanceof ApiError && error.status === 401) {
    sessionStorage.removeItem(KEY_STORAGE);
    showLogin(`The key was refused: ${error.message}`);
    return;
  }
  const banner = $("board-error");
  banner.textContent = `${where}: ${error.message}`;
  banner.hidden = false;
  if (!$("board").hidden) return;
  showLogin(`${where}: ${error.message}`);
}

// ---- summary: tiles, meters, accounts, alerts -----------------------------------------

async function refresh() {
  let summary;
  try {
    summary = await api("/v1/dashboard/summary");
  } catch (error) {
    failed(error, "Could not load the summary");
    return false;
  }
  state.summary = summary;
  $("board-error").hidden = true;
  $("as-of").textContent = `Updated ${when(summary.as_of)}`;
  $("role").textContent = summary.role;
  renderTiles(summary);
  renderMeters(summary);
  renderAccounts(summary);
  renderAlerts(summary);
  if (state.selected) await loadLedger(state.selected);
  return true;
}

function tile(label, value, detail, tone) {
  return el("div", { class: `tile ${tone || ""}` },
    el("span", { class: "tile-label" }, label),
    el("span", { class: "tile-value" }, value),
    el("span", { class: "tile-detail" }, detail));
}

function renderTiles(summary) {
  const online = summary.meters.filter((m) => m.online).length;
  const open = summary.meters.filter((m) => m.relay === "open").length;
  const low = summary.accounts.filter(
    (a) => isNegative(a.balance) || (a.days_of_credit_left !== null && Number(a.days_of_credit_left) < 3),
  ).length;
  $("tiles").replaceChildren(
    tile("Meters online", `${online} / ${summary.meters.length}`,
      `offline after ${summary.offline_after_intervals} missed intervals`,
      online < summary.meters.length ? "warn" : "ok"),
    tile("Relays open", String(open), "disconnected supplies", open ? "warn" : "ok"),
    tile("Accounts", String(summary.accounts_total), `${low} low on credit (< 3 days)`,
      low ? "warn" : "ok"),
    tile("Open alerts", String(summary.unacknowledged_alerts), "not yet acknowledged",
      summary.unacknowledged_alerts ? "alert" : "ok"),
  );
}

function truncation(shown, total, noun) {
  return shown < total ? `showing ${shown} of ${total} ${noun}` : `${total} ${noun}`;
}

function renderMeters(summary) {
  $("meters-note").textContent = truncation(summary.meters.length, summary.meters_total, "meters");
  const rows = summary.meters.map((m) => el("tr", { dataset: { meter: m.id } },
    el("td", null, el("strong", null, m.id), el("div", { class: "muted small" }, m.serial)),
    el("td", null, accountLink(m.account_id)),
    el("td", null, m.online ? pill("online", "ok") : pill("offline", "bad")),
    el("td", null, m.relay === "closed" ? pill("closed", "ok") : pill(m.relay, "bad")),
    el("td", { title: when(m.last_reading_at) },
      ago(m.last_reading_at, summary.as_of),
      el("div", { class: "muted small" }, m.last_reading_at ? when(m.last_reading_at) : "")),
    el("td", { class: "num mono" }, m.last_reading_kwh ?? "—"),
    el("td", null, commissioning(m.commissioning_status))));
  $("meters").tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(7, "No meters yet.")]));
}

function commissioning(status) {
  if (status === "passed") return pill("passed", "ok");
  if (status === "failed") return pill("failed", "bad");
  return pill(humanize(status), "neutral");
}

function accountLink(accountId) {
  return el("button", {
    type: "button", class: "link", onclick: () => selectAccount(accountId),
  }, accountId);
}

function emptyRow(columns, text) {
  return el("tr", null, el("td", { colspan: columns, class: "empty" }, text));
}

function renderAccounts(summary) {
  const rows = summary.accounts.map((a) => {
    const days = a.days_of_credit_left;
    const daysTone = days === null ? "" : Number(days) < 1 ? "bad-text" : Number(days) < 3 ? "warn-text" : "";
    return el("tr", {
      class: `clickable ${a.id === state.selected ? "selected" : ""}`,
      dataset: { account: a.id },
      onclick: () => selectAccount(a.id),
    },
    el("td", null, accountLink(a.id), a.protected ? el("span", { class: "chip small" }, "protected") : null),
    el("td", null, pill(a.status, a.status === "active" ? "ok" : "neutral")),
    el("td", { class: `num mono ${isNegative(a.balance) ? "bad-text" : ""}` }, money(a.balance, a.currency)),
    el("td", { class: `num mono ${daysTone}` }, days === null ? "—" : days),
    el("td", { class: `num mono ${isZero(a.emergency_credit) ? "muted" : "warn-text"}` },
      money(a.emergency_credit, a.currency)),
    el("td", { class: `num mono ${isZero(a.debt) ? "muted" : "bad-text"}` }, money(a.debt, a.currency)),
    el("td", { class: "num mono muted" }, String(a.last_sequence)));
  });
  $("accounts").tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(7, "No accounts yet.")]));
}

function renderAlerts(summary) {
  $("alerts-note").textContent = `${summary.unacknowledged_alerts} unacknowledged`;
  const items = summary.alerts.map((a) => {
    const open = a.acknowledged_at === null;
    const action = open
      ? summary.can_acknowledge
        ? el("button", { type: "button", class: "button small acknowledge", onclick: (e) => acknowledge(a.id, e.currentTarget) }, "Acknowledge")
        : el("span", { class: "muted small" }, "operators acknowledge")
      : el("span", { class: "muted small" }, `✓ ${a.acknowledged_by || ""} · ${when(a.acknowledged_at)}`);
    return el("li", { class: `alert-item ${open ? "open" : "done"}`, dataset: { alert: a.id } },
      el("div", { class: "alert-head" },
        pill(humanize(a.kind), open ? alertTone(a.kind) : "neutral"),
        a.level ? el("span", { class: "chip small" }, a.level) : null,
        el("span", { class: "muted small" }, when(a.created_at))),
      el("p", { class: "alert-message" }, a.message),
      el("div", { class: "alert-foot" },
        el("span", { class: "small" }, "Account ", accountLink(a.account_id),
          a.meter_id ? ` · meter ${a.meter_id}` : ""),
        action));
  });
  $("alerts").replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, "No alerts.")]));
}

function alertTone(kind) {
  return kind === "low_balance" || kind === "meter_offline" ? "warn" : "bad";
}

async function acknowledge(alertId, button) {
  button.disabled = true;
  try {
    await api(`/v1/alerts/${encodeURIComponent(alertId)}/acknowledge`, { method: "POST" });
  } catch (error) {
    button.disabled = false;
    failed(error, "Could not acknowledge the alert");
    return;
  }
  await refresh();
}

// ---- ledger of the selected account ---------------------------------------------------

async function selectAccount(accountId) {
  state.selected = accountId;
  for (const row of $("accounts").tBodies[0].rows) {
    row.classList.toggle("selected", row.dataset.account === accountId);
  }
  await loadLedger(accountId);
  $("ledger-card").scrollIntoView({ block: "nearest" });
}

async function loadLedger(accountId) {
  const account = (state.summary?.accounts || []).find((a) => a.id === accountId);
  const after = account ? Math.max(0, account.last_sequence - LEDGER_ENTRIES) : 0;
  const entries = [];
  let url = `/v1/accounts/${encodeURIComponent(accountId)}/ledger?limit=${LEDGER_ENTRIES}&after_sequence=${after}`;
  try {
    while (url && entries.length < LEDGER_ENTRIES * 2) {
      const page = await api(url);
      entries.push(...page.entries);
      url = page.next_after_sequence === null ? null
        : `/v1/accounts/${encodeURIComponent(accountId)}/ledger?limit=${LEDGER_ENTRIES}&after_sequence=${page.next_after_sequence}`;
    }
  } catch (error) {
    failed(error, `Could not load the ledger of ${accountId}`);
    return;
  }
  if (state.selected !== accountId) return; // another account was clicked meanwhile
  $("ledger-card").hidden = false;
  $("ledger-title").textContent = `Ledger · ${accountId}`;
  $("ledger-note").textContent = after > 0
    ? `the newest ${entries.length} entries, newest first`
    : `${entries.length} entries, newest first`;
  renderChart($("chart"), entries, account ? account.currency : "", when);
  renderLedger(entries);
}

function renderLedger(entries) {
  const body = $("ledger").tBodies[0];
  const rows = [];
  for (const entry of [...entries].reverse()) {
    rows.push(el("tr", { class: "entry", dataset: { sequence: entry.sequence } },
      el("td", { class: "num mono muted" }, String(entry.sequence)),
      el("td", null, when(entry.effective_at)),
      el("td", null, pill(humanize(entry.kind), kindTone(entry.kind))),
      el("td", null, entry.meter_id || ""),
      el("td", { class: "mono" }, entry.previous && entry.current
        ? `${entry.previous.kwh} → ${entry.current.kwh}` : ""),
      el("td", { class: "num mono" }, entry.energy_kwh ?? ""),
      el("td", { class: `num mono ${isNegative(entry.amount) ? "" : "good-text"}` }, entry.amount),
      el("td", { class: "num mono" }, `${entry.balance_before} → ${entry.balance_after}`)));
    const detail = entryDetail(entry);
    if (detail) rows.push(el("tr", { class: "detail" }, el("td", null), el("td", { colspan: 7 }, detail)));
  }
  body.replaceChildren(...(rows.length ? rows : [emptyRow(8, "No ledger entries yet.")]));
}

function kindTone(kind) {
  if (kind === "top_up") return "ok";
  if (kind === "deduction" || kind === "standing_charge") return "neutral";
  if (kind === "reversal" || kind === "adjustment") return "info";
  return "warn";
}

function entryDetail(entry) {
  const parts = [];
  if (entry.previous && entry.current) {
    parts.push(el("div", { class: "detail-meta" },
      `Interval ${when(entry.previous.ts)} → ${when(entry.current.ts)}`,
      entry.tariff_version ? ` · tariff ${entry.tariff_version}` : "",
      entry.method ? ` · ${humanize(entry.method)}` : ""));
  }
  for (const line of entry.lines) {
    parts.push(el("div", { class: "priced" },
      el("span", { class: "line-kind" }, humanize(line.kind)),
      line.tier === null ? null : el("span", { class: "chip" }, `tier ${line.tier}`),
      line.band ? el("span", { class: "chip band" }, line.band) : null,
      el("span", { class: "mono" }, `${line.energy_kwh} kWh × ${line.unit_price} = ${line.amount}`),
      isZero(line.tax) ? null : el("span", { class: "muted mono" }, ` (tax ${line.tax})`)));
  }
  for (const r of entry.rounding) {
    parts.push(el("div", { class: "rounding mono" },
      `rounding of the cycle total: exact ${r.exact_before} + ${r.exact_amount} = ${r.exact_after}; `,
      `rounded ${r.rounded_before} → ${r.rounded_after}; charged ${r.charged}`));
  }
  const extras = [
    entry.external_ref ? `reference ${entry.external_ref}` : null,
    entry.reason ? `reason: ${entry.reason}` : null,
    entry.flags.length ? `flags: ${entry.flags.join(", ")}` : null,
    ...entry.notes,
  ].filter(Boolean);
  if (extras.length) parts.push(el("div", { class: "detail-meta" }, extras.join(" · ")));
  return parts.length ? el("div", { class: "entry-detail" }, parts) : null;
}

// ---- start ----------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("refresh").addEventListener("click", () => refresh());
  start();
});
