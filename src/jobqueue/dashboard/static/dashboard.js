// The dashboard's one script: times in the viewer's zone (UTC on hover), and live pages that
// follow the server's event streams (no polling). A page part that changes is fetched again as
// the server renders it, and swapped in; progress is drawn from the event itself.
"use strict";

const PREFIX = "/dashboard";
const EVENT_TYPES = ["enqueued", "started", "progress", "abort_requested", "retry_scheduled",
  "interrupted", "succeeded", "failed", "aborted", "expired"];
const TERMINAL = new Set(["succeeded", "failed", "aborted", "expired"]);
const RECONNECT_MS = 5000;

function localTimes(root) {
  root.querySelectorAll("time[datetime]").forEach((el) => {
    const when = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) return;
    el.title = when.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
    el.textContent = when.toLocaleString();
  });
}

// Follow `url`'s events, handing each to `onEvent(type, data, id)`. The browser reconnects by
// itself (sending Last-Event-ID); a refused connection (503: too many streams, Redis down) is
// retried here after a pause. `onEvent` returning false closes the stream for good.
function follow(url, onEvent) {
  let source = null;
  const open = () => {
    source = new EventSource(url);
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message) => {
        if (onEvent(type, JSON.parse(message.data), message.lastEventId) === false) source.close();
      });
    }
    source.onerror = async () => {
      if (source.readyState !== EventSource.CLOSED) return;  // (the browser reconnects)
      if (await signedIn()) setTimeout(open, RECONNECT_MS);
    };
  };
  open();
  window.addEventListener("pagehide", () => source && source.close());
}

// The session has ended (a page answers with a redirect to the login page): go there.
function toLogin() {
  window.location.assign(`${PREFIX}/login`);
}

async function signedIn() {
  try {
    const response = await fetch(window.location.href, { redirect: "manual" });
    if (response.type === "opaqueredirect" || response.status === 401) { toLogin(); return false; }
  } catch (_) { /* offline: try again later */ }
  return true;
}

async function fetchHtml(url) {
  const response = await fetch(url, { credentials: "same-origin", redirect: "manual" });
  if (response.type === "opaqueredirect" || response.status === 401) { toLogin(); return null; }
  return response.ok ? response.text() : null;
}

function fromHtml(html, tag) {
  const holder = document.createElement(tag);
  holder.innerHTML = html.trim();
  return holder.firstElementChild;
}

// Fetches of the same key run one at a time, the last request winning (a burst of events for
// one job costs at most two fetches).
function coalesced(task) {
  const running = new Map();
  const run = async (key) => {
    const state = running.get(key);
    if (state) { state.again = true; return; }
    running.set(key, { again: false });
    try {
      do { running.get(key).again = false; await task(key); } while (running.get(key).again);
    } finally { running.delete(key); }
  };
  return run;
}

function feedUrl(after) {
  return after ? `${PREFIX}/events?after=${encodeURIComponent(after)}` : `${PREFIX}/events`;
}

// New rows beyond this many are not fetched one by one: a note offers the newest page instead.
const MAX_NEW_ROWS = 50;

function liveJobs(body) {
  const wantStatus = body.dataset.status;
  const wantFunction = body.dataset.function;
  let added = 0;
  const showMore = () => {
    if (document.getElementById("more-jobs")) return;
    const note = document.createElement("p");
    note.id = "more-jobs";
    note.className = "note";
    note.setAttribute("role", "status");
    note.innerHTML = 'More new jobs than this page follows: <a href="">show the newest</a>.';
    body.closest(".table").before(note);
  };
  const refresh = coalesced(async (jobId) => {
    const html = await fetchHtml(`${PREFIX}/jobs/${encodeURIComponent(jobId)}/row`);
    if (html === null) return;
    const row = fromHtml(html, "tbody");
    localTimes(row);
    const old = body.querySelector(`tr[data-job="${CSS.escape(jobId)}"]`);
    if (old) old.replaceWith(row);
    else if (added < MAX_NEW_ROWS) { body.prepend(row); added += 1; }
    else showMore();
    const empty = document.getElementById("no-jobs");
    if (empty) empty.remove();
  });
  follow(feedUrl(body.dataset.after), (type, data) => {
    const old = body.querySelector(`tr[data-job="${CSS.escape(data.job_id)}"]`);
    if (type === "progress") {
      const cell = old && old.querySelector('[data-cell="progress"]');
      const p = data.progress;
      if (cell && p) cell.textContent = p.total ? `${Math.round(100 * p.current / p.total)}%` : `${p.current}`;
      return;
    }
    const matches = (!wantStatus || data.status === wantStatus)
      && (!wantFunction || data.function === wantFunction);
    if (old || matches) refresh(data.job_id);
  });
}

function drawProgress(p) {
  const bar = document.getElementById("progress-bar");
  const text = document.getElementById("progress-text");
  if (!bar || !p) return false;
  if (p.total) {
    bar.max = p.total;
    bar.value = p.current;
  }
  const percent = p.total ? `${Math.round(100 * p.current / p.total)}%` : "";
  text.textContent = [percent, p.message || ""].filter(Boolean).join(" ");
  return true;
}

function liveJob(holder) {
  const jobId = holder.dataset.job;
  const live = holder.querySelector('[data-live="job"]');
  if (!live) return;
  const base = `${PREFIX}/jobs/${encodeURIComponent(jobId)}`;
  const after = live.dataset.after;
  const refresh = coalesced(async () => {
    const html = await fetchHtml(`${base}/panel`);
    if (html === null) return;
    holder.innerHTML = html;
    localTimes(holder);
  });
  follow(after ? `${base}/events?after=${encodeURIComponent(after)}` : `${base}/events`, (type, data) => {
    if (type === "progress" && drawProgress(data.progress)) return true;
    refresh(jobId);
    return !TERMINAL.has(type);
  });
}

function liveOverview(holder) {
  let waiting = false;
  const refresh = async () => {
    const html = await fetchHtml(`${PREFIX}/overview/figures`);
    if (html === null) return;
    holder.innerHTML = html;
    localTimes(holder);
  };
  // At most one refresh a second however many jobs change.
  follow(feedUrl(holder.dataset.after), (type) => {
    if (type === "progress" || waiting) return;
    waiting = true;
    setTimeout(() => { waiting = false; refresh(); }, 1000);
  });
}

localTimes(document);
document.querySelectorAll('tbody[data-live="jobs"]').forEach(liveJobs);
document.querySelectorAll("#job-panel").forEach(liveJob);
document.querySelectorAll('[data-live="overview"]').forEach(liveOverview);
