// Publishing: save the draft as a post, submit it through the gate, and follow its state and
// audit trail; approvers work a queue of posts waiting for them; everyone sees the month's usage
// against the plan. Saves carry an Idempotency-Key, so a double click makes one post.

import { call, get, segment } from "./api.js";
import { draft } from "./composer.js";
import { $, fill, h, panel, showError } from "./dom.js";

let current = null;
// The draft as last saved, to know whether Submit must save first.
let savedAs = "";

function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function postBody() {
  const { text, platforms, account } = draft();
  const body = { texts: Object.fromEntries(platforms.map((p) => [p, text])), accounts: account ? [account] : [] };
  const schedule = $("schedule").value;
  if (schedule) body.scheduled_at = new Date(schedule).toISOString();
  return body;
}

async function save() {
  const body = postBody();
  const { body: post } = await call("POST", "/v1/posts", { json: body, extraHeaders: { "Idempotency-Key": randomKey() } });
  savedAs = JSON.stringify(body);
  show(post);
  return post;
}

async function act(verb, post, json = undefined) {
  const { body, headers } = await call("POST", `/v1/posts/${segment(post.id)}:${verb}`, { json });
  const warning = headers.get("x-quota-warning");
  $("publishing-notice")?.remove();
  if (warning) $("post-view").after(h("p", { id: "publishing-notice", class: "notice", role: "status" }, `Quota warning: ${warning} this month.`));
  return body.post;
}

/// Runs a button's work with the button disabled, showing any error under the panel.
function guarded(button, errorElement, work) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await work();
      showError(errorElement, null);
    } catch (error) {
      showError(errorElement, error);
    } finally {
      button.disabled = false;
    }
  });
}

function show(post) {
  current = post;
  $("refresh-post").disabled = false;
  const reasons = (post.reasons || []).map((reason) => {
    if (reason.source === "gate") return h("li", {}, `Gate (${reason.platform}): ${reason.category} ${reason.decision} at ${reason.score.toFixed(2)}${reason.detail ? ` — ${reason.detail}` : ""}`);
    if (reason.source === "approver") return h("li", {}, `Approver ${reason.actor}: ${reason.note || "no note"}`);
    return h("li", {}, `Delivery to ${reason.platform} (${reason.connector}): ${reason.error}`);
  });
  const when = post.scheduled_at ? `scheduled for ${new Date(post.scheduled_at).toLocaleString()}` : "to publish on approval";
  fill(
    $("post-view"),
    h("p", {}, "Post ", h("code", {}, post.id), " is ", h("span", { id: "post-state", class: "state", "data-state": post.state }, post.state.replace("_", " ")), `, ${when}.`),
    reasons.length ? h("ul", {}, reasons) : null,
    post.deliveries?.length
      ? h("ul", {}, post.deliveries.map((d) => h("li", {}, `${d.platform} via ${d.connector}: ${d.state}, ${d.attempts} attempts${d.last_error ? ` (${d.last_error})` : ""}`)))
      : null,
  );
  trail(post);
}

const trailRuns = panel("audit-error", () => fill($("audit-trail")));

/// The post's audit trail: the log has no post filter, so its rows since the post's creation are
/// read (at most a few pages) and those about this post kept.
const trail = (post) =>
  trailRuns(async (signal) => {
    const rows = [];
    let after = null;
    for (let page = 0; page < 5; page += 1) {
      const query = new URLSearchParams({ since: post.created_at, limit: "1000" });
      if (after !== null) query.set("after", String(after));
      const answer = await get(`/v1/audit?${query}`, { signal });
      rows.push(...answer.events.filter((event) => event.resource === `posts/${post.id}`));
      after = answer.next_after;
      if (after === null || after === undefined) break;
    }
    const steps = rows.map((row) => h("li", {}, `${row.at.slice(0, 19).replace("T", " ")} ${row.event} by ${row.actor || "—"} (${row.outcome})`));
    fill($("audit-trail"), steps.length ? steps : h("li", { class: "notice" }, "No steps recorded yet."));
  });

const queueRuns = panel("queue-error", () => fill($("approval-queue")));

/// The posts waiting for an approver, each with approve and reject (with a note).
export const queue = () =>
  queueRuns(async (signal) => {
    const answer = await get("/v1/posts?state=pending_approval&limit=50", { signal });
    const items = answer.posts.map((post) => {
      const text = Object.values(post.texts)[0] || "";
      const noteId = `note-${post.id}`;
      const approve = h("button", { type: "button", class: "approve", "data-post": post.id }, "Approve");
      const reject = h("button", { type: "button", class: "secondary reject", "data-post": post.id }, "Reject");
      const decide = (verb, button) =>
        guarded(button, $("queue-error"), async () => {
          const note = $(noteId).value.trim();
          const decided = await act(verb, post, verb === "reject" && note ? { note } : undefined);
          if (current && current.id === decided.id) show(decided);
          await Promise.all([queue(), usage()]);
        });
      decide("approve", approve);
      decide("reject", reject);
      return h(
        "li",
        { "data-post": post.id },
        h("span", { class: "text" }, text, h("span", { class: "meta" }, ` · ${post.accounts.join(", ")} · by ${post.created_by}`)),
        h("label", { for: noteId, class: "visually-hidden" }, `Note for ${post.id}`),
        h("input", { id: noteId, type: "text", placeholder: "note (for a rejection)", maxlength: 1000 }),
        approve,
        reject,
      );
    });
    fill($("approval-queue"), items.length ? items : h("li", { class: "notice" }, "No posts are waiting for approval."));
  });

/// The month's counts against the plan's limits; the answer, or null when it failed. Not a
/// `panel`: the header reads its answer, so a later call must not abort it.
export async function usage() {
  try {
    const answer = await get("/v1/usage");
    const limits = answer.limits || {};
    const against = (label, used, limit) => {
      if (limit === null || limit === undefined) return h("li", {}, `${label}: ${used} (no limit)`);
      const share = used / limit;
      return h("li", { class: share >= 1 ? "over" : share >= 0.8 ? "near" : "" }, `${label}: ${used} of ${limit} (${Math.round(share * 100)} %)`);
    };
    fill(
      $("usage"),
      h("li", {}, `Plan: ${answer.plan || "none (development mode)"}, ${answer.period}`),
      h("li", {}, `API calls: ${answer.api_calls}`),
      h("li", {}, `AI-generated posts: ${answer.ai_generated_posts}`),
      against("Posts scheduled this month", answer.published_posts, limits.posts_per_month),
      limits.accounts === undefined ? null : h("li", {}, `Accounts allowed: ${limits.accounts ?? "unlimited"}; users: ${limits.users ?? "unlimited"}`),
    );
    showError($("usage-error"), null);
    return answer;
  } catch (error) {
    fill($("usage"));
    showError($("usage-error"), error);
    return null;
  }
}

export function start() {
  const errors = $("publishing-error");
  guarded($("save-draft"), errors, save);
  guarded($("submit-post"), errors, async () => {
    const fresh = !current || current.state !== "draft" || savedAs !== JSON.stringify(postBody());
    const post = fresh ? await save() : current;
    show(await act("submit", post));
    await Promise.all([queue(), usage()]);
  });
  guarded($("refresh-post"), errors, async () => {
    if (current) show(await get(`/v1/posts/${segment(current.id)}`));
  });
  guarded($("refresh-queue"), $("queue-error"), queue);
}
