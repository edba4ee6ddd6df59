// The assistant page's entry: the key form, then every panel. A new key reloads what depends on
// who is asking (platform overrides, accounts, usage, the approval queue, best times).

import { apiKey, setApiKey } from "./api.js";
import * as captions from "./captions.js";
import * as composer from "./composer.js";
import { $, showError } from "./dom.js";
import * as image from "./image.js";
import * as publishing from "./publishing.js";
import * as timing from "./timing.js";

function describeKey() {
  const key = apiKey();
  // A key's first 16 characters are its public prefix (`eiq_` and 12 hex digits), never the secret.
  return key ? `Using key ${key.slice(0, 16)}…` : "No key: development mode (the server must have no tenants).";
}

async function load() {
  $("who").textContent = `${describeKey()} Loading…`;
  showError($("session-error"), null);
  try {
    await composer.load();
    const usage = await publishing.usage();
    const plan = usage ? (usage.plan ? ` Plan: ${usage.plan}.` : " No plan limits.") : "";
    $("who").textContent = `${describeKey()}${plan}`;
  } catch (error) {
    $("who").textContent = describeKey();
    showError($("session-error"), error);
    // The panels still show the previous key's answers: ask again, so each says what it got.
    composer.changed();
  }
  publishing.queue();
  timing.reload();
  // The page is usable (platforms and accounts are in): Chromium's performance timeline shows
  // this mark, and the page benchmark reads it as the time to interactive.
  performance.mark("eiq:interactive");
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey($("api-key").value.trim());
  $("api-key").value = "";
  load();
});
$("forget-key").addEventListener("click", () => {
  setApiKey("");
  load();
});

composer.start();
captions.start();
image.start();
timing.start();
publishing.start();
load();
