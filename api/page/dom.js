// Small DOM helpers shared by the panels: building elements without innerHTML (every text the
// page shows is the user's or the server's, so it is only ever set as text), showing an API
// error a person can act on, and debouncing.

/// `h("li", { class: "x", onclick: f }, "text", child)`.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

export const $ = (id) => document.getElementById(id);

/// Replaces `element`'s children.
export function fill(element, ...children) {
  element.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

const countdowns = new WeakMap();

/// Shows `error` in `element` (a role="alert" paragraph): the server's message, what a 401 or
/// 403 means for this page, and for a 429 or 503 when a retry is welcome (a countdown, or a date
/// when that is far away).
export function showError(element, error) {
  clearInterval(countdowns.get(element));
  if (!error || error.name === "AbortError") {
    element.textContent = "";
    return;
  }
  const hint =
    error.status === 401
      ? " Enter a valid API key above."
      : error.status === 403
        ? " Ask an admin for a key whose role or plan allows this."
        : "";
  const sentence = /[.!?)]$/.test(error.message) ? error.message : `${error.message}.`;
  const base = `${error.status ? `${error.status}: ` : ""}${sentence}${hint}`;
  if (error.retryAfter === null || error.retryAfter === undefined) {
    element.textContent = base;
    return;
  }
  let left = error.retryAfter;
  if (left > 90) {
    // A quota's month: a date says more than a count of seconds.
    element.textContent = `${base} Retry after ${new Date(Date.now() + left * 1000).toLocaleString()}.`;
    return;
  }
  const render = () => {
    element.textContent = left > 0 ? `${base} Retry in ${left} s.` : `${base} You can retry now.`;
  };
  render();
  countdowns.set(
    element,
    setInterval(() => {
      left -= 1;
      render();
      if (left <= 0) clearInterval(countdowns.get(element));
    }, 1000),
  );
}

/// `f` called `wait` ms after the last of a burst of calls.
export function debounce(f, wait) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => f(...args), wait);
  };
}

/// A panel's requests: each run of `work(signal)` aborts the panel's previous one, so an answer
/// for stale text never lands over a newer one. A run that succeeds clears the panel's error; one
/// that fails (not by abort) calls `reset`, so no earlier answer stays beside the error, and shows
/// the error in the element `errorId`.
export function panel(errorId, reset = () => {}) {
  let controller = null;
  return async (work) => {
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    try {
      await work(mine.signal);
      showError($(errorId), null);
    } catch (error) {
      if (error.name === "AbortError") return;
      reset();
      showError($(errorId), error);
    } finally {
      if (controller === mine) controller = null;
    }
  };
}

export const percent = (value) => `${value >= 0 ? "+" : ""}${Math.round(value * 100)} %`;

/// `Date` as the value of an `<input type="datetime-local">` (the browser's local time).
export function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
