// The selected account's chart, as inline SVG built element by element: a bar per reading
// interval (kWh, left axis) and the balance after each ledger entry as a step line (right
// axis). Numbers here are for drawing only; the tables show the exact decimal strings.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const HOUR_MS = 3600000;
const DAY_MS = 24 * HOUR_MS;
const TIME_STEPS_MS = [1, 2, 3, 6, 12, 24, 48, 168].map((hours) => hours * HOUR_MS);
const Y_TICKS = 5;
const tickDay = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const tickTime = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

function svgNode(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// An axis from `low` to `high` in Y_TICKS equal steps of 1, 2, 2.5 or 5 x 10^n.
function niceAxis(low, high) {
  const span = Math.max(high - low, 1e-9);
  for (let magnitude = 10 ** Math.floor(Math.log10(span / Y_TICKS)); ; magnitude *= 10) {
    for (const factor of [1, 2, 2.5, 5]) {
      const step = factor * magnitude;
      const bottom = Math.floor(low / step) * step;
      if (bottom + step * Y_TICKS >= high) return { bottom, step, top: bottom + step * Y_TICKS };
    }
  }
}

// Tick instants on whole local hours or days, about six across [t0, t1].
function timeTicks(t0, t1) {
  const step = TIME_STEPS_MS.find((ms) => (t1 - t0) / ms <= 7) || 7 * DAY_MS;
  const offset = new Date(t0).getTimezoneOffset() * 60000; // align to local midnight
  const ticks = [];
  for (let t = Math.ceil((t0 - offset) / step) * step + offset; t <= t1; t += step) ticks.push(t);
  return { ticks, step };
}

function label(value) {
  return Number(value.toFixed(2)).toString();
}

function renderChart(figure, entries, currency, when) {
  if (!entries.length) {
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = "Nothing to chart yet.";
    figure.replaceChildren(empty);
    return;
  }
  const width = 1000;
  const height = 270;
  const pad = { left: 52, right: 60, top: 30, bottom: 28 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const dated = entries.map((entry) => ({ entry, t: Date.parse(entry.effective_at) }));
  const bars = entries
    .filter((e) => e.kind === "deduction" && e.previous && e.current && e.energy_kwh !== null)
    .map((e) => ({ start: Date.parse(e.previous.ts), end: Date.parse(e.current.ts), kwh: Number(e.energy_kwh) }));
  let t0 = Math.min(...dated.map((d) => d.t), ...bars.map((b) => b.start));
  let t1 = Math.max(...dated.map((d) => d.t));
  if (t1 - t0 < HOUR_MS) [t0, t1] = [t0 - HOUR_MS, t1 + HOUR_MS];
  const balances = dated.map((d) => Number(d.entry.balance_after));
  balances.push(Number(entries[0].balance_before));
  const kwh = niceAxis(0, Math.max(...bars.map((b) => b.kwh), 0));
  const money = niceAxis(Math.min(0, ...balances), Math.max(...balances, 0));

  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * plotW;
  const yKwh = (k) => pad.top + plotH - ((k - kwh.bottom) / (kwh.top - kwh.bottom)) * plotH;
  const yMoney = (m) => pad.top + plotH - ((m - money.bottom) / (money.top - money.bottom)) * plotH;

  const grid = [];
  for (let i = 0; i <= Y_TICKS; i += 1) {
    const y = pad.top + plotH - (plotH * i) / Y_TICKS;
    grid.push(svgNode("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid" }));
    grid.push(svgNode("text", { x: pad.left - 8, y: y + 4, class: "axis kwh", "text-anchor": "end" },
      label(kwh.bottom + kwh.step * i)));
    grid.push(svgNode("text", { x: width - pad.right + 8, y: y + 4, class: "axis money" },
      label(money.bottom + money.step * i)));
  }
  const { ticks, step } = timeTicks(t0, t1);
  const xTicks = ticks.map((t) => {
    const date = new Date(t);
    const midnight = date.getHours() === 0 && date.getMinutes() === 0;
    const text = step >= DAY_MS || midnight ? tickDay.format(date) : tickTime.format(date);
    return svgNode("g", null,
      svgNode("line", { x1: x(t), x2: x(t), y1: pad.top + plotH, y2: pad.top + plotH + 4, class: "tick" }),
      svgNode("text", { x: x(t), y: height - 8, class: `axis ${midnight ? "day" : ""}`, "text-anchor": "middle" }, text));
  });
  const barNodes = bars.map((b) => {
    const left = x(b.start);
    const top = yKwh(b.kwh);
    return svgNode("rect", {
      x: left + 0.5, y: top, width: Math.max(1.5, x(b.end) - left - 1), height: Math.max(0, yKwh(0) - top),
      class: "bar", rx: 1,
    }, svgNode("title", null, `${b.kwh} kWh · ${when(new Date(b.start).toISOString())} → ${when(new Date(b.end).toISOString())}`));
  });
  // the balance holds between entries: a step line
  let path = `M ${x(t0)} ${yMoney(Number(entries[0].balance_before))}`;
  for (const d of dated) path += ` H ${x(d.t)} V ${yMoney(Number(d.entry.balance_after))}`;
  path += ` H ${x(t1)}`;
  const points = dated.map((d) => svgNode("circle", {
    cx: x(d.t), cy: yMoney(Number(d.entry.balance_after)), r: d.entry.kind === "deduction" ? 2 : 4,
    class: `point ${d.entry.kind}`,
  }, svgNode("title", null, `#${d.entry.sequence} ${d.entry.kind.replaceAll("_", " ")}: ${d.entry.amount} → balance ${d.entry.balance_after} ${currency}`)));
  const zero = money.bottom < 0
    ? svgNode("line", { x1: pad.left, x2: width - pad.right, y1: yMoney(0), y2: yMoney(0), class: "zero" })
    : null;

  const chart = svgNode("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart-svg", id: "chart-svg",
    "aria-label": "Consumption per reading interval and balance after each entry",
  },
  grid, xTicks, barNodes, zero, svgNode("path", { d: path, class: "balance" }), points,
  svgNode("text", { x: pad.left - 8, y: 14, class: "axis-title kwh", "text-anchor": "end" }, "kWh"),
  svgNode("text", { x: width - pad.right + 8, y: 14, class: "axis-title money" }, currency));
  const legend = document.createElement("figcaption");
  legend.className = "legend";
  for (const [swatch, text] of [
    ["bar", "Consumption per reading interval (kWh, left axis)"],
    ["line", `Balance after each entry (${currency}, right axis)`],
    ["dot", "Other entries: top-ups, emergency credit, adjustments"],
  ]) {
    const mark = document.createElement("span");
    mark.className = `swatch ${swatch}`;
    legend.append(mark, document.createTextNode(text));
  }
  figure.replaceChildren(chart, legend);
}
