// Captions, streamed: the model's words appear as it writes them (`text` events), then each
// variant is replaced by the final, fitted and gated text (`variant` events), with "Use this"
// to put it in the composer. A variant event carries no index: the n-th one of a platform is
// that platform's n-th variant, the same index its `text` pieces came with.

import { stream } from "./api.js";
import { draft, setText } from "./composer.js";
import { imageId } from "./image.js";
import { $, fill, h, showError } from "./dom.js";

let running = null;

function slot(platform, index) {
  const id = `caption-${platform}-${index}`;
  let item = document.getElementById(id);
  if (!item) {
    item = h("li", { id, "data-platform": platform }, h("p", { class: "caption-text" }), h("div", { class: "meta" }, `${platform}: writing…`));
    $("caption-variants").append(item);
  }
  return item;
}

function finished(item, variant) {
  const text = item.querySelector(".caption-text");
  text.textContent = variant.text;
  const length = `${variant.length.used} / ${variant.length.limit}`;
  const gate = variant.gate ? `gate: ${variant.gate.decision}` : "";
  const hashtags = variant.hashtags.length ? ` · ${variant.hashtags.map((t) => `#${t.replace(/^#/, "")}`).join(" ")}` : "";
  fill(
    item.querySelector(".meta"),
    `${variant.platform}: ${length}${variant.valid ? "" : " (over the limit)"} · ${gate}${hashtags}`,
    variant.origin === "fitted_draft" ? " · your draft, fitted" : "",
    " ",
    h("button", { type: "button", class: "secondary use-caption", onclick: () => setText(variant.text), "aria-label": `Use this ${variant.platform} caption` }, "Use this"),
  );
  item.dataset.final = "true";
}

async function generate() {
  const { text, platforms } = draft();
  const status = $("captions-status");
  if (!platforms.length) {
    showError($("captions-error"), { status: 0, message: "Pick at least one platform.", retryAfter: null });
    return;
  }
  running?.abort();
  const controller = new AbortController();
  running = controller;
  fill($("caption-variants"));
  showError($("captions-error"), null);
  $("generate").disabled = true;
  status.textContent = "Writing captions…";
  const body = { text, platforms, variants: Number($("caption-count").value) };
  const tone = $("caption-tone").value.trim();
  if (tone) body.tone = tone;
  const image = imageId();
  if (image) body.image_id = image;
  const seen = new Map();
  try {
    await stream(
      "/v1/captions:generate",
      body,
      (event, data) => {
        if (event === "text") {
          const item = slot(data.platform, data.variant);
          if (!item.dataset.final) item.querySelector(".caption-text").textContent += data.text;
        } else if (event === "variant") {
          const index = seen.get(data.platform) || 0;
          seen.set(data.platform, index + 1);
          finished(slot(data.platform, index), data);
        } else if (event === "done") {
          status.textContent = data.method === "model" ? `Written by ${data.model}.` : `Fitted by rules: ${data.reason}.`;
        } else if (event === "error") {
          const error = data.error || {};
          showError($("captions-error"), { status: 0, message: error.message || "the stream failed", retryAfter: null });
        }
      },
      { signal: controller.signal },
    );
  } catch (error) {
    showError($("captions-error"), error);
    status.textContent = "";
  } finally {
    if (running === controller) running = null;
    $("generate").disabled = false;
  }
}

export function start() {
  $("generate").addEventListener("click", generate);
}
