// Timing: the draft's forecast at each hour of the coming week (a line inside its 80 % interval
// band) and the account's best slots as a weekday × hour heatmap, as the batch report draws it.
// The heatmap is a grid of buttons with one tab stop (arrow keys move within it); picking a slot
// fills the schedule time with the slot's next occurrence.

import { get, post, segment } from "./api.js";
import { draft, historyPlatform } from "./composer.js";
import { $, debounce, fill, h, localInputValue, panel, percent } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

const forecastRuns = panel("forecast-error", () => {
  fill($("forecast-chart"));
  $("timing-status").textContent = "No forecast for this draft (below).";
});
function forecast({ text, platforms, account }) {
  forecastRuns(async (signal) => {
    if (!account || !text.trim()) {
      fill($("forecast-chart"));
      $("timing-status").textContent = "Pick an account and type a post to forecast it.";
      return;
    }
    const body = { text };
    const platform = historyPlatform(account, platforms);
    if (platform) body.platform = platform;
    const answer = await post(`/v1/accounts/${segment(account)}/forecast`, body, { signal });
    chart(answer);
    const best = answer.best;
    $("timing-status").textContent =
      `Best hour this week: ${best.local_time}${answer.timezone ? ` (${answer.timezone})` : ""}, ` +
      `${Math.round(best.engagement)} engagements expected (${Math.round(best.low)}–${Math.round(best.high)}).`;
  });
}

function chart(answer) {
  const points = answer.forecasts;
  const width = 720;
  const height = 200;
  const pad = { left: 40, right: 10, top: 10, bottom: 24 };
  const top = Math.max(1, ...points.map((p) => p.high));
  const x = (i) => pad.left + (i * (width - pad.left - pad.right)) / Math.max(1, points.length - 1);
  const y = (v) => height - pad.bottom - (v / top) * (height - pad.top - pad.bottom);
  const band = [...points.map((p, i) => `${x(i)},${y(p.high)}`), ...points.map((p, i) => `${x(i)},${y(p.low)}`).reverse()];
  const line = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.engagement).toFixed(1)}`).join("");
  const ticks = [];
  points.forEach((p, i) => {
    if (i === 0 || p.local_time.endsWith("00:00")) {
      ticks.push(svg("line", { class: "axis", x1: x(i), x2: x(i), y1: height - pad.bottom, y2: height - pad.bottom + 4 }));
      const label = svg("text", { x: x(i) + 2, y: height - 6 });
      label.textContent = p.local_time.slice(0, 3);
      ticks.push(label);
    }
  });
  const scale = svg("text", { x: 2, y: pad.top + 8 });
  scale.textContent = String(Math.round(top));
  const bestIndex = points.findIndex((p) => p.at === answer.best.at);
  const title = svg("title");
  title.textContent = "Expected engagement per hour of the coming week, with its 80 % interval";
  const picture = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "forecast-caption" },
    title,
    svg("polygon", { class: "band", points: band.join(" ") }),
    svg("path", { class: "line", d: line }),
    svg("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: height - pad.bottom, y2: height - pad.bottom }),
    scale,
    ...ticks,
    bestIndex >= 0 ? svg("circle", { cx: x(bestIndex), cy: y(points[bestIndex].engagement), r: 4, fill: "#b3261e" }) : "",
  );
  const model = answer.model;
  fill(
    $("forecast-chart"),
    picture,
    h(
      "figcaption",
      { id: "forecast-caption", class: "legend" },
      `Forecast for ${answer.account_id} on ${answer.platform}: expected engagement (line) and its 80 % interval (band) for each hour of the coming week; the dot is the best hour. `,
      `Model: ${model.served}, trained on ${model.trained_posts} posts (held-out Spearman ${model.held_out_spearman.toFixed(2)}).`,
    ),
  );
}

let bestFor = "";
const bestRuns = panel("heatmap-error", () => {
  bestFor = "";
  fill($("heatmap"));
});
function bestTimes({ platforms, account }, force = false) {
  const platform = historyPlatform(account, platforms);
  const key = `${account}|${platform || ""}`;
  if (key === bestFor && !force) return;
  bestFor = key;
  bestRuns(async (signal) => {
    if (!account) {
      fill($("heatmap"), h("p", { class: "notice" }, "Pick an account to see its best times."));
      return;
    }
    const query = new URLSearchParams({ include_grid: "true", resolution_minutes: "60", top_k: "5" });
    if (platform) query.set("platform", platform);
    const answer = await get(`/v1/accounts/${segment(account)}/best-times?${query}`, { signal });
    heatmap(answer);
  });
}

function heatmap(answer) {
  const grid = answer.grid;
  const values = grid.map((slot) => slot.expected_engagement);
  const low = Math.min(...values);
  const high = Math.max(...values);
  const best = new Set(answer.top.map((slot) => slot.start_minute));
  const cells = new Map(grid.map((slot) => [slot.start_minute, slot]));
  const buttons = [];
  const rows = DAYS.map((day, d) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, day),
      Array.from({ length: 24 }, (_, hour) => {
        const slot = cells.get(d * 1440 + hour * 60);
        if (!slot) return h("td");
        const share = high > low ? (slot.expected_engagement - low) / (high - low) : 0.5;
        const label =
          `${slot.start}: ${Math.round(slot.expected_engagement)} engagements expected, ${percent(slot.lift)} lift` +
          ` (${percent(slot.lift_low)} to ${percent(slot.lift_high)}), ${slot.posts} past posts` +
          `${best.has(slot.start_minute) ? ", one of the best" : ""}${slot.blacked_out ? ", blacked out" : ""}`;
        const button = h("button", {
          type: "button",
          class: "slot",
          tabindex: buttons.length ? -1 : 0,
          "aria-label": label,
          "aria-pressed": "false",
          "data-minute": slot.start_minute,
          onclick: () => pick(slot, button),
          onkeydown: (event) => move(event, buttons.indexOf(button), buttons),
        });
        button.style.background = shade(share);
        if (best.has(slot.start_minute)) button.style.borderColor = "#1b1b1f";
        buttons.push(button);
        return h("td", {}, button);
      }),
    ),
  );
  const hours = Array.from({ length: 24 }, (_, hour) => h("th", { scope: "col" }, hour % 3 === 0 ? String(hour) : h("span", { class: "visually-hidden" }, String(hour))));
  const topButtons = answer.top.map((slot) =>
    h("button", { type: "button", class: "secondary best-slot", "data-minute": slot.start_minute, onclick: () => pick(slot, buttons.find((b) => Number(b.dataset.minute) === slot.start_minute)) }, `${slot.start} ${percent(slot.lift)}`),
  );
  fill(
    $("heatmap"),
    h("p", { class: "legend" }, `Best slots for ${answer.account_id} on ${answer.platform}${answer.timezone ? ` in ${answer.timezone}` : ""} (${answer.account_posts} posts); darker is better:`),
    h("div", { class: "chips" }, topButtons),
    h("table", { class: "heatmap", "aria-labelledby": "heatmap-title" }, h("thead", {}, h("tr", {}, h("td"), hours)), h("tbody", {}, rows)),
  );
}

/// Light (#eef3fb) to dark (#0b3d91) blue.
function shade(share) {
  const mix = (a, b) => Math.round(a + (b - a) * share);
  return `rgb(${mix(238, 11)}, ${mix(243, 61)}, ${mix(251, 145)})`;
}

function move(event, index, buttons) {
  const steps = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 24, ArrowUp: -24, Home: -index, End: buttons.length - 1 - index };
  const step = steps[event.key];
  if (step === undefined) return;
  event.preventDefault();
  const next = buttons[Math.min(buttons.length - 1, Math.max(0, index + step))];
  buttons[index].tabIndex = -1;
  next.tabIndex = 0;
  next.focus();
}

function pick(slot, button) {
  for (const other of document.querySelectorAll("#heatmap .slot[aria-pressed='true']")) other.setAttribute("aria-pressed", "false");
  if (button) button.setAttribute("aria-pressed", "true");
  const schedule = $("schedule");
  schedule.value = localInputValue(new Date(slot.next_at));
  schedule.dispatchEvent(new Event("change"));
  $("timing-status").textContent = `Schedule set to the next ${slot.start} (${new Date(slot.next_at).toLocaleString()}).`;
}

export function start() {
  const forecastLater = debounce(forecast, 700);
  document.addEventListener("eiq:draft", (event) => {
    forecastLater(event.detail);
    bestTimes(event.detail);
  });
}

/// Reloads the heatmap (a new key may see another tenant).
export const reload = () => bestTimes(draft(), true);
