// The actionjournal console: jobs, a job's records, a record's timeline and
// payload previews, over the server's JSON routes (server/gateway.h). Every
// value from the journal is shown with textContent, never as HTML, so a
// hostile key or payload is text; the page's Content-Security-Policy allows
// no inline script either.
"use strict";

const PAGE_SIZE = 50;
const PREVIEW_BYTES = 4096;

const view = () => document.getElementById("view");

// DOM helpers: el("td", {class: "num"}, "text" | node, ...).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick") node.addEventListener("click", v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function b64ToBytes(b64) {
  const s = atob(b64 || "");
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Bytes as text when they are printable UTF-8, else as hex.
function bytesText(bytes) {
  try {
    const t = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    if (!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(t)) return { text: t, binary: false };
  } catch (e) { /* not UTF-8 */ }
  return { text: "0x" + hex(bytes), binary: true };
}

function keyText(b64) { return bytesText(b64ToBytes(b64)).text; }

// Percent-encodes bytes for a query parameter.
function pct(bytes) {
  return Array.from(bytes, (b) => "%" + b.toString(16).padStart(2, "0")).join("");
}

function time(micros) {
  const n = Number(micros || 0);
  if (!n) return "-";
  return new Date(n / 1000).toISOString().replace("T", " ").replace("Z", "");
}

function usd(microUsd) { return (Number(microUsd || 0) / 1e6).toFixed(6); }

function bytesSize(n) {
  n = Number(n || 0);
  if (n < 1024) return n + " B";
  if (n < 1 << 20) return (n / 1024).toFixed(1) + " KiB";
  return (n / (1 << 20)).toFixed(1) + " MiB";
}

function notice(message) {
  const box = document.getElementById("notice");
  box.textContent = message || "";
  box.hidden = !message;
}

function token() { return sessionStorage.getItem("actionjournal-token") || ""; }

// GET a JSON route; on 401 asks for a token and retries after it is given.
async function api(path) {
  const headers = {};
  if (token()) headers.Authorization = "Bearer " + token();
  const resp = await fetch(path, { headers });
  let body;
  try { body = await resp.json(); } catch (e) { body = { code: "UNKNOWN", message: resp.statusText }; }
  if (resp.ok) return body;
  const err = new Error(body.message || resp.statusText);
  err.code = body.code || String(resp.status);
  err.status = resp.status;
  throw err;
}

function showError(err) {
  if (err.status === 401) {
    document.getElementById("token-form").hidden = false;
    notice(token() ? "The server refused this token: " + err.message
                   : "The server requires a token: " + err.message);
    return;
  }
  if (err.status === 403) {
    notice("Refused (" + err.code + "): " + err.message);
    return;
  }
  notice("Error " + (err.code || "") + ": " + err.message);
}

function crumbs(...parts) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren();
  parts.forEach((p, i) => {
    if (i) nav.append(" / ");
    nav.append(p.href ? el("a", { href: p.href }, p.text) : el("span", {}, p.text));
  });
}

// #/ : every job, from GetStats.
// Opens a job by its id (for a token that may read only some jobs).
function openJobForm() {
  const form = el("form", { class: "filters", id: "open-job" },
    el("label", {}, "job id", el("input", { id: "job-id", required: "", placeholder: "job id" })),
    el("button", { type: "submit" }, "Open"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = "#/job/" + encodeURIComponent(document.getElementById("job-id").value);
  });
  return form;
}

async function jobsView() {
  crumbs({ text: "jobs" });
  let stats;
  try {
    stats = await api("/api/v1/stats");
  } catch (err) {
    // Listing every job needs admin; a token for some jobs opens them by id.
    if (err.status !== 403) throw err;
    view().replaceChildren(el("h1", {}, "Jobs"), openJobForm());
    showError(err);
    return;
  }
  const rows = (stats.jobs || []).map((j) => el("tr", {
      class: "job link", "data-job": j.job_id,
      onclick: () => { location.hash = "#/job/" + encodeURIComponent(j.job_id); } },
    el("td", { class: "key" }, j.job_id),
    el("td", { class: "num" }, j.records),
    el("td", { class: "num" }, j.entries),
    el("td", { class: "num" }, bytesSize(j.payload_bytes)),
    el("td", { class: "num" }, Number(j.cost.input_tokens) + Number(j.cost.output_tokens)),
    el("td", { class: "num" }, usd(j.cost.micro_usd)),
    el("td", { class: "num" }, j.replayed_records),
    el("td", { class: "num" }, j.replays)));
  view().replaceChildren(
    el("h1", {}, "Jobs"), openJobForm(),
    rows.length === 0 ? el("p", { class: "muted", id: "no-jobs" }, "The journal holds no records.") :
    el("table", { id: "jobs" },
      el("thead", {}, el("tr", {}, ...["job", "records", "entries", "stored", "tokens a replay saves",
        "USD a replay saves", "replayed records", "replays"].map((h, i) =>
        el("th", { class: i ? "num" : "" }, h)))),
      el("tbody", {}, ...rows)));
}

// #/job/JOB?prefix=..&status=..&replayed=1 : a job's records, paged.
async function jobView(job, query) {
  crumbs({ text: "jobs", href: "#/" }, { text: job });
  const prefix = query.get("prefix") || "";
  const status = query.get("status") || "any";
  const replayed = query.get("replayed") === "1";
  const tokens = [""];  // the page tokens of the pages seen so far
  const form = el("form", { class: "filters", id: "filters" },
    el("label", {}, "key starts with", el("input", { id: "prefix", value: prefix, placeholder: "record key prefix" })),
    el("label", {}, "status", (() => {
      const s = el("select", { id: "status" },
        ...["any", "open", "completed", "retained"].map((v) => el("option", { value: v }, v)));
      s.value = status;
      return s;
    })()),
    el("label", {}, "replayed", (() => {
      const c = el("input", { id: "replayed", type: "checkbox" });
      c.checked = replayed;
      return c;
    })()),
    el("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    const p = document.getElementById("prefix").value;
    if (p) q.set("prefix", p);
    const s = document.getElementById("status").value;
    if (s !== "any") q.set("status", s);
    if (document.getElementById("replayed").checked) q.set("replayed", "1");
    location.hash = "#/job/" + encodeURIComponent(job) + (q.toString() ? "?" + q : "");
  });
  const table = el("tbody", { id: "records" });
  const info = el("span", { class: "muted", id: "page-info" });
  const prev = el("button", { type: "button", id: "prev-page" }, "Previous page");
  const next = el("button", { type: "button", id: "next-page" }, "Next page");
  view().replaceChildren(el("h1", {}, "Records of " + job), form,
    el("table", {}, el("thead", {}, el("tr", {}, ...["key", "seq", "status", "attempt", "created",
      "actions", "entries", "stored", "USD", "replays"].map((h, i) =>
      el("th", { class: i >= 5 || i === 1 || i === 3 ? "num" : "" }, h)))), table),
    el("div", { class: "pager" }, prev, next, info));
  let page = 0;
  async function load() {
    const q = new URLSearchParams({ job, page_size: String(PAGE_SIZE) });
    if (prefix) q.set("prefix", prefix);
    if (status !== "any") q.set("status", status);
    if (replayed) q.set("replayed", "1");
    if (tokens[page]) q.set("page_token", tokens[page]);
    const resp = await api("/api/v1/records?" + q);
    const records = resp.records || [];
    table.replaceChildren(...records.map((r) => {
      const state = r.status === "RECORD_STATUS_COMPLETED" ? "completed" : "open";
      return el("tr", { class: "record link", onclick: () => {
          location.hash = "#/record/" + encodeURIComponent(job) + "/" +
            encodeURIComponent(r.record.record_key) + "/" + r.record.seq_num; } },
        el("td", { class: "key" }, keyText(r.record.record_key)),
        el("td", { class: "num" }, r.record.seq_num),
        el("td", {}, state + (Number(r.retained_until_unix_micros) ? " (pruned, kept)" : "")),
        el("td", { class: "num" }, r.attempt),
        el("td", {}, time(r.created_at_unix_micros)),
        el("td", { class: "num" }, r.actions),
        el("td", { class: "num" }, r.entries),
        el("td", { class: "num" }, bytesSize(r.payload_bytes)),
        el("td", { class: "num" }, usd(r.cost.micro_usd)),
        el("td", { class: "num" }, r.replays));
    }));
    if (resp.next_page_token) tokens[page + 1] = resp.next_page_token;
    next.disabled = !resp.next_page_token;
    prev.disabled = page === 0;
    info.textContent = "page " + (page + 1) + (records.length ? "" : " (no records)");
  }
  next.addEventListener("click", () => { page++; load().catch(showError); });
  prev.addEventListener("click", () => { page--; load().catch(showError); });
  await load();
}

function reuseBadge(record, written, reused) {
  if (Number(record.replays) === 0) return el("span", { class: "badge first" }, "first run");
  if (reused) return el("span", { class: "badge reused" }, "reused by the replay");
  if (!Number(written)) return el("span", { class: "badge first" }, "unknown");
  return el("span", { class: "badge ran" }, "ran in the replay");
}

// A preview of one payload: its first bytes, as escaped text or hex.
function previewButton(job, keyBytes, seq, action, which, size) {
  const out = el("div", { class: "preview" });
  const button = el("button", { type: "button", class: "show-payload" }, "Show payload");
  button.addEventListener("click", async () => {
    try {
      const q = "job=" + encodeURIComponent(job) + "&key=" + pct(keyBytes) + "&seq=" + seq +
        "&action=" + encodeURIComponent(action) + "&" + which;
      const resp = await api("/api/v1/payload?" + q);
      const all = b64ToBytes(resp.data);
      const shown = bytesText(all.slice(0, PREVIEW_BYTES));
      const more = Number(resp.total_bytes) > PREVIEW_BYTES ?
        " (first " + PREVIEW_BYTES + " of " + resp.total_bytes + " bytes)" : "";
      out.replaceChildren(el("div", { class: "muted" }, (shown.binary ? "binary, as hex" : "text") + more),
        el("pre", { class: "payload" }, shown.text));
    } catch (err) { showError(err); }
  });
  if (!Number(size)) return el("span", { class: "muted" }, "empty");
  return el("div", {}, button, out);
}

// #/record/JOB/KEY(base64)/SEQ : a record's timeline.
async function recordView(job, keyB64, seq) {
  const keyBytes = b64ToBytes(keyB64);
  const key = bytesText(keyBytes).text;
  crumbs({ text: "jobs", href: "#/" }, { text: job, href: "#/job/" + encodeURIComponent(job) },
    { text: key + " / " + seq });
  const resp = await api("/api/v1/record?job=" + encodeURIComponent(job) + "&key=" + pct(keyBytes) +
    "&seq=" + encodeURIComponent(seq));
  const r = resp.record;
  const state = r.status === "RECORD_STATUS_COMPLETED" ? "completed" : "open";
  const summary = el("table", { id: "summary" }, el("tbody", {},
    ...[["key", key], ["seq", r.record.seq_num], ["status", state], ["attempt", r.attempt],
      ["created", time(r.created_at_unix_micros)], ["last written", time(r.written_at_unix_micros)],
      ["completed", time(r.completed_at_unix_micros)],
      ["replays", r.replays + (Number(r.replays) ? ", the last at " + time(r.replayed_at_unix_micros) : "")],
      ["kept until", time(r.retained_until_unix_micros)],
      ["entries", r.entries + " in " + r.actions + " action(s), " + bytesSize(r.payload_bytes)],
      ["cost", r.cost.input_tokens + " input and " + r.cost.output_tokens + " output tokens, USD " +
        usd(r.cost.micro_usd)]].map(([k, v]) =>
      el("tr", {}, el("th", {}, k), el("td", { class: k === "key" ? "key" : "" }, v)))));
  const actions = (resp.actions || []).map((a) => {
    const entries = (a.steps || []).map((s) => {
      const status = s.status.replace("STEP_STATUS_", "");
      const size = Number(s.omitted_bytes) + b64ToBytes(status === "FAILED" ? s.error : s.result).length;
      return el("div", { class: "entry step", "data-index": s.index },
        el("div", {}, "step " + s.index),
        el("div", {},
          el("span", { class: "key" }, s.function_id), " ",
          el("span", { class: "badge " + status }, status), " ",
          el("span", { class: "muted" }, bytesSize(size) + ", written " + time(s.written_at_unix_micros) +
            ", args digest " + hex(b64ToBytes(s.args_digest)).slice(0, 16)),
          previewButton(job, keyBytes, r.record.seq_num, a.action_key, "step=" + s.index, size)),
        reuseBadge(r, s.written_at_unix_micros, s.reused));
    });
    if (a.completion) {
      const c = a.completion;
      const size = Number(c.omitted_bytes) + b64ToBytes(c.state).length;
      entries.push(el("div", { class: "entry completion" },
        el("div", {}, "completion"),
        el("div", {}, el("span", { class: "muted" }, bytesSize(size) + ", written " +
          time(c.written_at_unix_micros)),
          previewButton(job, keyBytes, r.record.seq_num, a.action_key, "completion=1", size)),
        reuseBadge(r, c.written_at_unix_micros, c.reused)));
    }
    return el("div", { class: "action", "data-action": a.action_key },
      el("h2", {}, el("span", { class: "key" }, a.action_key), " ",
        el("span", { class: "muted" }, (a.completion ? "completed" : "not completed") +
          ", USD " + usd(a.cost.micro_usd))),
      ...entries);
  });
  view().replaceChildren(el("h1", {}, "Record"), summary, el("h2", {}, "Timeline"),
    ...(actions.length ? actions : [el("p", { class: "muted" }, "No actions journaled.")]));
}

async function route() {
  notice("");
  document.getElementById("forget-token").hidden = !token();
  const hash = location.hash || "#/";
  const [path, qs] = hash.slice(1).split("?");
  const parts = path.split("/").filter((p) => p !== "").map(decodeURIComponent);
  try {
    if (parts[0] === "job" && parts.length === 2) await jobView(parts[1], new URLSearchParams(qs || ""));
    else if (parts[0] === "record" && parts.length === 4) await recordView(parts[1], parts[2], parts[3]);
    else await jobsView();
  } catch (err) {
    view().replaceChildren();
    showError(err);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("actionjournal-token", document.getElementById("token").value);
    document.getElementById("token-form").hidden = true;
    route();
  });
  document.getElementById("forget-token").addEventListener("click", () => {
    sessionStorage.removeItem("actionjournal-token");
    route();
  });
  window.addEventListener("hashchange", route);
  route();
});
