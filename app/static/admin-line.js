// /admin's "The line" tab: the line's own hours, closures, longest wait and what callers hear, over
// /api/admin/line. Only the fields changed here are sent, so the others keep their defaults
// (the environment's settings) until someone saves them.
import { api, el, when, duration, dateInWords, ApiError } from "/static/core.js";

const $ = (sel, root = document) => root.querySelector(sel);
const WORDING = ["greeting", "closed_message", "voicemail_prompt", "position_wording"];
let ui = null;      // say, showErrors, clearErrors from admin.js
let loaded = null;  // what the server said, to send only what changed
let previewTimer = null;

const form = () => $("#line-form");
const hoursText = (hours) => (hours || []).map((h) => `${h.days} ${h.opens} ${h.closes}`).join("\n");
function parseHours(text) {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
    const [days, opens, closes] = l.split(/\s+/);
    return { days: days || "", opens: opens || "", closes: closes || "" };
  });
}

// ---- closures: one row each, two dates and a reason -------------------------------------------
function closureRow(c, n) {
  const starts = el("input", { type: "date", name: "closure_starts", value: c.starts, required: true, "aria-label": `Closure ${n}: first day` });
  const ends = el("input", { type: "date", name: "closure_ends", value: c.ends, required: true, "aria-label": `Closure ${n}: last day` });
  const note = el("input", { name: "closure_note", value: c.note || "", maxlength: 120, placeholder: "Christmas Day", "aria-label": `Closure ${n}: reason` });
  const row = el("div", { class: "line-closure" },
    el("label", {}, "From", starts), el("label", {}, "To", ends), el("label", { class: "line-reason" }, "Reason", note),
    el("button", { type: "button", class: "danger", text: "Remove", "aria-label": `Remove closure ${n}`, onclick: () => row.remove() }));
  // The chosen day in words beside each (en-GB, whatever the browser's own format).
  dateInWords(starts);
  dateInWords(ends);
  starts.addEventListener("change", () => { if (!ends.value || ends.value < starts.value) { ends.value = starts.value; ends.dispatchEvent(new Event("change")); } });
  return row;
}

function closures() {
  return [...document.querySelectorAll("#line-closures .line-closure")].map((row) => ({
    starts: row.querySelector('[name="closure_starts"]').value || null,
    ends: row.querySelector('[name="closure_ends"]').value || null,
    note: row.querySelector('[name="closure_note"]').value.trim(),
  }));
}

// ---- what callers hear ------------------------------------------------------------------------
function spokenSlots() {
  for (const area of form().querySelectorAll("textarea[data-spoken]")) {
    if (area.parentElement.querySelector(".line-heard")) continue;
    area.after(
      el("small", { class: "muted line-count", "data-count-for": area.name }),
      el("p", { class: "line-heard", "data-heard-for": area.name }, el("span", { class: "muted", text: "Callers hear: " }), el("q")));
  }
}

function showHeard(heard) {
  for (const name of WORDING) {
    const slot = form().querySelector(`[data-heard-for="${name}"]`);
    slot.querySelector("q").textContent = heard[name].says;
    const area = form().elements[name];
    form().querySelector(`[data-count-for="${name}"]`).textContent =
      `${area.value.length} of ${area.maxLength} characters · about ${duration(heard[name].seconds)} to say`;
  }
}

function wordingBody() {
  const f = form().elements;
  const body = {};
  for (const name of WORDING) body[name] = f[name].value.trim() || null;
  return body;
}

async function preview() {
  const f = form();
  for (const name of WORDING) f.querySelector(`[data-error-for="${name}"]`)?.remove();
  try {
    showHeard(await api("POST", "/api/admin/line/preview", wordingBody()));
    for (const name of WORDING) f.elements[name].removeAttribute("aria-invalid");
  } catch (err) {
    if (err instanceof ApiError && err.status === 422) markFields(err.detail);
  }
}

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, 300);
}

// ---- the numbers in words ---------------------------------------------------------------------
function numberWords() {
  const f = form().elements;
  const wait = Number(f.max_wait_seconds.value);
  $("#line-wait-words").textContent = wait ? `${duration(wait)}, then the voicemail prompt` : "";
  const every = Number(f.position_announce_seconds.value);
  $("#line-announce-words").textContent = every ? `every ${duration(every)} while the place is unchanged` : "";
}

function hoursMode() {
  const weekly = form().querySelector('input[name="hours_mode"]:checked')?.value === "weekly";
  for (const node of form().querySelectorAll('[data-when="weekly"]')) node.hidden = !weekly;
}

// ---- load, fill, save -------------------------------------------------------------------------
function fill(s) {
  loaded = s;
  const f = form().elements;
  f.taking_calls.checked = s.taking_calls;
  f.max_wait_seconds.value = s.max_wait_seconds;
  f.position_announce_seconds.value = s.position_announce_seconds;
  form().querySelector(`input[name="hours_mode"][value="${s.hours ? "weekly" : "always"}"]`).checked = true;
  f.hours.value = hoursText(s.hours);
  f.voice.replaceChildren(...Object.entries(s.voices).map(([value, label]) => el("option", { value, text: label })));
  f.voice.value = s.voice;
  for (const name of WORDING) f[name].value = s[name];
  $("#line-closures").replaceChildren(...s.closures.map((c, i) => closureRow(c, i + 1)));
  for (const zone of document.querySelectorAll("[data-zone]")) zone.textContent = s.timezone === "Europe/London" ? "UK time" : s.timezone;
  const box = $("#line-open-words");
  box.className = `line-now ${s.open_now ? "open" : "closed"}`;
  box.textContent = s.open_words;
  const saved = ["taking_calls", "max_wait_seconds", "position_announce_seconds"].filter((n) => s.defaults.includes(n));
  $("#line-defaults").textContent = saved.length
    ? "Values not saved here yet come from the server's settings (OPENLINE_LINE_OPEN, OPENLINE_MAX_WAIT_SECONDS, OPENLINE_POSITION_ANNOUNCE_SECONDS)."
    : "";
  $("#line-updated").textContent = s.updated_at ? `Last changed ${when(s.updated_at)} by ${(s.updated_by || "").replace(/^user:/, "")}` : "Never changed here";
  hoursMode();
  numberWords();
  spokenSlots();
  showHeard(s.heard);
}

export async function loadLine() {
  fill(await api("GET", "/api/admin/line"));
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function changes() {
  const f = form().elements;
  const now = {
    taking_calls: f.taking_calls.checked,
    max_wait_seconds: f.max_wait_seconds.value === "" ? null : Number(f.max_wait_seconds.value),
    position_announce_seconds: f.position_announce_seconds.value === "" ? null : Number(f.position_announce_seconds.value),
    hours: form().querySelector('input[name="hours_mode"]:checked').value === "weekly" ? parseHours(f.hours.value) : null,
    closures: closures(),
    voice: f.voice.value,
    ...wordingBody(),
  };
  const body = {};
  for (const [name, value] of Object.entries(now)) if (!same(value, loaded[name])) body[name] = value;
  return body;
}

// A 422 names its fields ("hours.0", "closures.1.ends"): each message goes beside its own control.
function markFields(detail) {
  const f = form();
  let first = null;
  for (const item of detail) {
    const [name, index, part] = String(item.field || "").split(".");
    let input = null;
    if (name === "closures" && index !== undefined) {
      const row = f.querySelectorAll("#line-closures .line-closure")[Number(index)];
      input = row && row.querySelector(`[name="closure_${part || "starts"}"]`);
    } else input = f.elements[name] && f.elements[name].nodeType === 1 ? f.elements[name] : null;
    if (!input) { f.querySelector('.admin-field-error[data-error="closures"]').textContent = item.message; continue; }
    const id = `err-line-${item.field.replace(/\W/g, "-")}`;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
    input.closest("label").append(el("span", { class: "admin-field-error", id, "data-error-for": name, text: item.message }));
    first = first || input;
  }
  return first;
}

async function save() {
  const f = form();
  ui.clearErrors(f);
  const body = changes();
  if (!Object.keys(body).length) { ui.say("Nothing has changed."); return; }
  const button = $("#line-save");
  button.disabled = true;
  try {
    fill(await api("PATCH", "/api/admin/line", body));
    ui.say("Saved. Calls arriving now follow the new settings (other servers within 15 seconds).");
  } catch (err) {
    if (err instanceof ApiError && err.status === 422 && Array.isArray(err.detail)) {
      const first = markFields(err.detail);
      ui.say("Nothing was saved: check the fields marked in red.", { error: true });
      if (first) first.focus();
    } else ui.showErrors(f, err);
  } finally { button.disabled = false; }
}

export function initLine(helpers) {
  ui = helpers;
  const f = form();
  f.addEventListener("submit", (event) => { event.preventDefault(); save(); });
  f.addEventListener("input", (event) => {
    if (event.target.matches("textarea[data-spoken]")) schedulePreview();
    if (event.target.type === "number") numberWords();
  });
  for (const radio of f.querySelectorAll('input[name="hours_mode"]')) radio.addEventListener("change", hoursMode);
  $("#line-add-closure").addEventListener("click", () => {
    const row = closureRow({ starts: "", ends: "", note: "" }, document.querySelectorAll("#line-closures .line-closure").length + 1);
    $("#line-closures").append(row);
    row.querySelector("input").focus();
  });
  $("#line-reset").addEventListener("click", () => { ui.clearErrors(f); fill(loaded); ui.say("Back to the saved settings."); });
}
