// The composer: what a social media manager sees while typing. Each pause in typing (debounced)
// asks the API, in parallel and per panel, for the platform rules' count, the gate's decision,
// the tone, hashtag suggestions and similar past posts. Each panel renders its own answer as it
// lands and aborts its previous request, so a slow model never holds up the counter or the gate,
// and an old answer never overwrites a newer one.

import { get, post } from "./api.js";
import { $, debounce, fill, h, panel, percent, showError } from "./dom.js";

const TYPING_PAUSE_MS = 120;

let platforms = [];
let accounts = [];
// Bumped on every edit; the gate's answer carries the revision it answers (data-revision), so a
// reader (a person with a screen reader, or a latency benchmark) knows it is current.
let revision = 0;

/// The draft: its text, the picked platforms and the account.
export function draft() {
  const picked = [...document.querySelectorAll("#platforms input:checked")].map((box) => box.value);
  return { text: $("text").value, platforms: picked, account: $("account").value.trim() };
}

/// The platform whose history to read for `account`: the first picked one it has posted on,
/// else none (the server then takes the account's own platform).
export function historyPlatform(account, picked) {
  const known = accounts.find((a) => a.account_id === account);
  return known ? picked.find((p) => known.platforms.includes(p)) : picked[0];
}

/// Replaces the text (a caption's "use this") and re-checks it.
export function setText(text) {
  $("text").value = text;
  changed();
}

/// Sets the platforms the API knows and the accounts with history.
export function setChoices(known, withHistory) {
  const previous = new Set(draft().platforms);
  platforms = known;
  accounts = withHistory;
  const boxes = known.map((platform, index) => {
    const id = `platform-${platform.id}`;
    const checked = previous.size ? previous.has(platform.id) : index === 0;
    return h(
      "span",
      {},
      h("input", { type: "checkbox", id, value: platform.id, checked, onchange: changed }),
      h("label", { for: id }, platform.name),
    );
  });
  fill($("platforms"), h("legend", {}, "Platforms"), boxes);
  fill($("account-options"), accounts.map((account) => h("option", { value: account.account_id })));
  if (!$("account").value && accounts.length) $("account").value = accounts[0].account_id;
  changed();
}

/// Checks the draft again, as it is (after a key change, its answers may differ or be refused).
export function changed() {
  revision += 1;
  document.dispatchEvent(new CustomEvent("eiq:draft", { detail: draft() }));
  check();
}

const check = debounce(() => {
  const current = draft();
  const at = revision;
  countLengths(current);
  gate(current, at);
  tone(current);
  hashtags(current);
  similar(current);
}, TYPING_PAUSE_MS);

const lengthRuns = panel("composer-error", () => fill($("counters")));
function countLengths({ text, platforms: picked }) {
  lengthRuns(async (signal) => {
    const answers = await Promise.all(picked.map((platform) => post("/v1/posts:check", { text, platform }, { signal })));
    const over = answers.some((answer) => !answer.valid && text.length > 0);
    $("text").setAttribute("aria-invalid", over ? "true" : "false");
    fill($("counters"), answers.map(counter));
  });
}

function counter(answer) {
  const name = platforms.find((p) => p.id === answer.platform)?.name || answer.platform;
  const unit = answer.length.unit === "weighted" ? "characters (weighted)" : answer.length.unit;
  const problems = answer.violations.filter((v) => v.rule !== "empty").map((v) => v.message);
  const over = answer.length.used > answer.length.limit;
  return h(
    "li",
    { class: `counter${problems.length ? " over" : ""}`, "data-platform": answer.platform, "data-valid": String(answer.valid) },
    `${name}: ${answer.length.used} / ${answer.length.limit} ${unit}`,
    over ? h("span", { class: "problem" }, ` (${answer.length.used - answer.length.limit} over)`) : null,
    problems.length && !over ? h("span", { class: "problem" }, ` (${problems.join("; ")})`) : null,
  );
}

const gateRuns = panel("gate-error", () => {
  fill($("gate-decision"), "No decision: the gate did not answer (below).");
  fill($("gate-reasons"));
  $("gate-preview").hidden = true;
});
function gate({ text, platforms: picked, account }, at) {
  gateRuns(async (signal) => {
    const decision = $("gate-decision");
    if (!text.trim()) {
      fill(decision, "Type a post to check it.");
      decision.dataset.revision = String(at);
      fill($("gate-reasons"));
      $("gate-preview").hidden = true;
      return;
    }
    const body = { text, platform: picked[0] || null };
    if (account) body.account_id = account;
    const answer = await post("/v1/moderation/gate", body, { signal });
    fill(decision, "Decision: ", h("span", { class: `decision ${answer.decision}` }, answer.decision), ` (policy ${answer.policy})`);
    fill(
      $("gate-reasons"),
      answer.reasons.map((reason) =>
        h(
          "li",
          {},
          `${reason.category}: ${reason.threshold_crossed} at score ${reason.score.toFixed(2)}`,
          reason.threshold === null || reason.threshold === undefined ? "" : ` (threshold ${reason.threshold})`,
          reason.detail ? ` — ${reason.detail}` : "",
          h("span", { class: "meta" }, ` · ${reason.model}`),
        ),
      ),
    );
    highlight(text, answer.spans);
    decision.dataset.revision = String(at);
  });
}

/// The text with the gate's spans marked. Spans count Unicode code points, as `Array.from` does.
function highlight(text, spans) {
  const preview = $("gate-preview");
  if (!spans.length) {
    preview.hidden = true;
    return;
  }
  const points = Array.from(text);
  const parts = [];
  let at = 0;
  for (const span of spans) {
    if (span.start < at) continue;
    parts.push(points.slice(at, span.start).join(""));
    parts.push(h("mark", { title: `${span.category}: ${span.entry}` }, points.slice(span.start, span.end).join("")));
    at = span.end;
  }
  parts.push(points.slice(at).join(""));
  fill(preview, h("span", { class: "visually-hidden" }, "Your text, with the flagged words marked: "), parts);
  preview.hidden = false;
}

const toneRuns = panel("tone-error", () => fill($("tone-result")));
function tone({ text }) {
  toneRuns(async (signal) => {
    if (!text.trim()) {
      fill($("tone-result"), h("p", { class: "notice" }, "Type a post to read its tone."));
      return;
    }
    const answer = await post("/v1/analyze", { inputs: text, tasks: ["sentiment", "emotion"] }, { signal });
    const result = answer.results[0];
    fill($("tone-result"), scores("Sentiment", result.sentiment), scores("Emotion", result.emotion));
  });
}

function scores(title, head) {
  const rows = Object.entries(head.scores).map(([label, score]) => {
    const bar = h("span");
    bar.style.width = `${Math.round(score * 100)}%`;
    return h("li", {}, h("span", {}, label), h("span", { class: "bar", "aria-hidden": "true" }, bar), h("span", {}, `${Math.round(score * 100)} %`));
  });
  return [h("h3", {}, `${title}: ${head.label}`), h("ul", { class: "bars", "aria-label": `${title} scores` }, rows)];
}

const hashtagRuns = panel("hashtags-error", () => {
  fill($("hashtag-chips"));
  $("hashtag-notes").textContent = "";
});
function hashtags({ text, platforms: picked, account }) {
  hashtagRuns(async (signal) => {
    if (!text.trim()) {
      fill($("hashtag-chips"), h("p", { class: "notice" }, "Type a post to get suggestions from your history."));
      $("hashtag-notes").textContent = "";
      return;
    }
    const body = { text };
    if (picked[0]) body.platform = picked[0];
    if (account) body.account_id = account;
    const answer = await post("/v1/hashtags:suggest", body, { signal });
    const present = new Set(Array.from(text.matchAll(/#([\p{L}\p{N}_]+)/gu), (m) => m[1].toLowerCase()));
    const chips = answer.hashtags
      .filter((tag) => !present.has(tag.tag.replace(/^#/, "").toLowerCase()))
      .map((tag) => chip(tag));
    fill($("hashtag-chips"), chips.length ? chips : h("p", { class: "notice" }, "No new hashtags to suggest."));
    const notes = [...answer.notes];
    if (answer.limit !== null && answer.limit !== undefined) notes.unshift(`At most ${answer.limit} on this platform.`);
    $("hashtag-notes").textContent = notes.join(" ");
  });
}

function chip(tag) {
  const lift = tag.lift === null || tag.lift === undefined ? "no history" : `${percent(tag.lift)} lift`;
  const evidence = tag.posts ? `${tag.posts} past post${tag.posts === 1 ? "" : "s"}` : tag.sources.join(", ");
  return h(
    "button",
    { type: "button", class: "chip", "data-tag": tag.tag, "aria-label": `Add ${tag.tag}: ${lift}, ${evidence}`, onclick: () => addTag(tag.tag) },
    tag.tag,
    " ",
    h("small", {}, `${lift} · ${evidence}`),
  );
}

function addTag(tag) {
  const area = $("text");
  const separator = area.value && !/\s$/.test(area.value) ? " " : "";
  setText(`${area.value}${separator}${tag}`);
  area.focus();
}

const similarRuns = panel("similar-error", () => fill($("similar-posts")));
function similar({ text, account }) {
  similarRuns(async (signal) => {
    if (!text.trim()) {
      fill($("similar-posts"), h("li", { class: "notice" }, "Type a post to find its neighbours."));
      return;
    }
    const body = { text, k: 5 };
    if (account) body.account_id = account;
    const answer = await post("/v1/posts:search", body, { signal });
    const items = answer.results.map((result) =>
      h(
        "li",
        {},
        result.text,
        h(
          "div",
          { class: "meta" },
          `${result.account_id} on ${result.platform}, ${result.created_at.slice(0, 10)} · ${Math.round(result.engagement)} engagements`,
          result.lift === null || result.lift === undefined ? "" : ` (${percent(result.lift)} vs the account then)`,
          ` · similarity ${result.score.toFixed(2)}`,
        ),
      ),
    );
    if (answer.indexing) items.push(h("li", { class: "notice" }, "The latest import is still being indexed."));
    fill($("similar-posts"), items.length ? items : h("li", { class: "notice" }, "No similar past posts."));
  });
}

export function start() {
  $("text").addEventListener("input", changed);
  $("account").addEventListener("change", changed);
}

/// Loads the platforms and the accounts (none yet is not an error: the account stays free text).
/// A failure is the caller's to show: it concerns the whole session (a wrong key, say).
export async function load() {
  const [known, accounts] = await Promise.all([
    get("/v1/platforms"),
    get("/v1/accounts").catch((error) => (error.status === 404 ? { accounts: [] } : Promise.reject(error))),
  ]);
  setChoices(known.platforms, accounts.accounts);
  showError($("composer-error"), null);
}
