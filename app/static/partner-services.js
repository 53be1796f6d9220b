// "Your services" on /partner: the partner keeps its own services up to date (open, paused or
// closed for a holiday; places for warm transfers now, the maximum and the waiting list; opening
// hours, planned closures, the live line). Routing reads the same record at once, so what is saved
// here is what listeners are offered, and saving confirms the figures are still true.
import { api, dateInWords, el, plainError, when } from "/static/core.js";

const API = "/api/partner/v1/services";
const WAITS = [
  ["", "Not said"],
  ["under-a-week", "Under a week"],
  ["1-4-weeks", "1–4 weeks"],
  ["over-4-weeks", "Longer than 4 weeks"],
];
const STATES = [
  ["open", "Open: taking warm transfers"],
  ["paused", "Paused"],
  ["holiday", "Closed for a holiday"],
];
const FIELDS = {
  availability: "Taking warm transfers", reopens_on: "Reopens on", note: "Note", spaces: "Places now",
  maximum: "Maximum", waiting_list: "Waiting list",
  hours: "Opening hours", closures: "Planned closures", live_phone: "Live line",
};
const root = document.getElementById("your-services-list");
const status = document.getElementById("your-services-status");

const say = (text, tone) => { status.className = `partner-services-status ${tone || ""}`; status.textContent = text; };

// One slot a line, "weekdays 09:00-17:00"; the server checks the day words and says which line is wrong.
const hoursText = (hours) => hours.map((h) => `${h.days} ${h.opens}-${h.closes}`).join("\n");
const closuresText = (closures) => closures.map((c) => `${c.starts} to ${c.ends}${c.note ? " " + c.note : ""}`).join("\n");

function parseHours(text) {
  return lines(text).map((line) => {
    const m = line.match(/^(.+?)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$/);
    if (!m) throw new Error(`“${line}” is not like “weekdays 09:00-17:00”`);
    return { days: m[1].trim(), opens: m[2], closes: m[3] };
  });
}

function parseClosures(text) {
  return lines(text).map((line) => {
    const m = line.match(/^(\d{4}-\d{2}-\d{2})(?:\s+to\s+(\d{4}-\d{2}-\d{2}))?\s*(.*)$/);
    if (!m) throw new Error(`“${line}” is not like “2026-12-24 to 2026-12-26 Christmas”`);
    return { starts: m[1], ends: m[2] || m[1], note: m[3].trim() || null };
  });
}

const lines = (text) => text.split("\n").map((l) => l.trim()).filter(Boolean);

function badge(a) {
  if (a.available_now) return el("span", { class: "badge ok", text: "Offered to listeners" });
  return el("span", { class: "badge warn", text: "Not offered to listeners" });
}

function input(service, name, label, attrs, hint) {
  const id = `svc-${service.id}-${name}`;
  const described = `${id}-hint ${id}-error`;
  const control = attrs.tag === "textarea"
    ? el("textarea", { id, name, rows: 3, "aria-describedby": described, maxlength: attrs.maxlength })
    : attrs.tag === "select"
      ? el("select", { id, name, "aria-describedby": described },
        attrs.options.map(([value, text]) => el("option", { value, selected: value === attrs.value }, text)))
      : el("input", { id, name, "aria-describedby": described, ...attrs });
  if (attrs.tag === "textarea") control.value = attrs.value || "";
  return [
    el("label", { for: id, text: label }), control,
    el("p", { class: "muted small", id: `${id}-hint`, text: hint }),
    el("p", { class: "partner-field-error", id: `${id}-error`, role: "alert" }),
  ];
}

function drawService(service) {
  const a = service.availability;
  const form = el("form", { class: "partner-action-form partner-service-form", novalidate: true, "data-service-id": service.id },
    el("fieldset", { "aria-describedby": `svc-${service.id}-availability-error` }, el("legend", { text: "Taking warm transfers?" }),
      STATES.map(([value, label]) => el("label", { class: "partner-choice" },
        el("input", { type: "radio", name: "availability", value, checked: a.state === value }), ` ${label}`)),
      el("p", { class: "partner-field-error", id: `svc-${service.id}-availability-error`, role: "alert" })),
    input(service, "reopens_on", "Reopens on (optional)", { type: "date", value: a.reopens_on || "" },
      "Paused or closed until the start of this day; then open again by itself."),
    input(service, "note", "Note for the helpline (optional)", { type: "text", maxlength: 300, value: a.note || "" },
      "Why it is paused or closed, in a few words; cleared when you reopen. No callers' details."),
    el("fieldset", { class: "partner-capacity" }, el("legend", { text: "Capacity" }),
      input(service, "spaces", "Places for warm transfers now", { type: "number", min: 0, max: 1000, inputmode: "numeric",
        value: a.spaces == null ? "" : String(a.spaces) },
        "Each new warm transfer takes one. 0: at capacity (listeners still see you, lower, and are told; pause to stop new ones). Empty: not said."),
      input(service, "maximum", "Maximum at once", { type: "number", min: 0, inputmode: "numeric",
        value: a.maximum == null ? "" : String(a.maximum) }, "The most warm transfers you hold at once; empty: not said."),
      input(service, "waiting_list", "Waiting list", { tag: "select", options: WAITS, value: a.waiting_list || "" },
        "How long a new caller waits for you to start. Listeners see it beside your service."),
      capacityFreshness(a)),
    input(service, "live_phone", "Live line", { type: "tel", maxlength: 16, value: service.live_phone || "", placeholder: "+441823000101" },
      "The number a listener's call is put through to, in international form; empty: no live line."),
    input(service, "hours", "Opening hours", { tag: "textarea", value: hoursText(service.hours) },
      "One line each, like “weekdays 09:00-17:00” or “sat 10:00-14:00”."),
    input(service, "closures", "Planned closures", { tag: "textarea", value: closuresText(a.closures) },
      "One line each, like “2026-12-24 to 2026-12-26 Christmas”."),
    el("div", { class: "partner-actions" }, el("button", { type: "submit", class: "primary", text: `Save ${service.name}` })));
  form.addEventListener("submit", (event) => { event.preventDefault(); save(service, form); });
  for (const day of form.querySelectorAll('input[type="date"]')) dateInWords(day);
  const state = !a.available_now ? `Listeners are not offered this service now: ${a.unavailable_reason}.`
    : a.spaces === 0 ? "Listeners are offered this service now, lower down, told it is at capacity before they send."
      : "Listeners are offered this service now.";
  return el("article", { class: "partner-service", id: `service-${service.id}`, "aria-labelledby": `service-${service.id}-title` },
    el("h3", { id: `service-${service.id}-title` }, service.name, " ", badge(a)),
    el("p", { class: "partner-service-state", text: state }),
    a.updated_at ? el("p", { class: "muted small", text: `Last changed ${when(a.updated_at)} by ${who(a.updated_by)}.` }) : null,
    form);
}

// Listeners are told when places or the waiting list have not been confirmed for a day.
function capacityFreshness(a) {
  if (a.spaces == null && !a.waiting_list) return null;
  if (!a.capacity_updated_at) return el("p", { class: "notice small", text: "Never confirmed: listeners are told it may be out of date. Save to confirm." });
  const given = `Places and waiting list last given ${when(a.capacity_updated_at)} by ${who(a.capacity_updated_by)}.`;
  return a.capacity_stale
    ? el("p", { class: "notice small", text: `${given} Listeners are told it may be out of date: save to confirm it is still right.` })
    : el("p", { class: "muted small", text: `${given} Saving confirms it is still right.` });
}

const who = (actor) => !actor ? "someone" : actor.startsWith("user:") ? actor.slice(5)
  : actor.startsWith("apikey:") ? "your case system" : actor;

function showErrors(form, service, problems) {
  form.querySelectorAll(".partner-field-error").forEach((p) => { p.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((c) => c.removeAttribute("aria-invalid"));
  let first = null;
  for (const [name, message] of problems) {
    const error = form.querySelector(`#svc-${service.id}-${name}-error`);
    const named = form.elements[name];
    const control = named instanceof RadioNodeList ? named[0] : named;
    if (!error || !control) continue;
    error.textContent = message;
    control.setAttribute("aria-invalid", "true");
    first = first || control;
  }
  if (first) first.focus();
}

function body(form) {
  const value = (name) => form.elements[name].value.trim();
  const problems = [];
  const out = {
    availability: form.querySelector('input[name="availability"]:checked').value,
    reopens_on: value("reopens_on") || null,
    note: value("note") || null,
    spaces: value("spaces") === "" ? null : Number(value("spaces")),
    maximum: value("maximum") === "" ? null : Number(value("maximum")),
    waiting_list: value("waiting_list") || null,
    live_phone: value("live_phone").replace(/[\s()-]/g, "") || null,
  };
  // Reopening clears the day and the note on the server (they said why it was closed).
  if (out.availability === "open") { delete out.reopens_on; delete out.note; }
  for (const [name, parse] of [["hours", parseHours], ["closures", parseClosures]]) {
    try { out[name] = parse(form.elements[name].value); } catch (e) { problems.push([name, e.message]); }
  }
  return { out, problems };
}

async function save(service, form) {
  const { out, problems } = body(form);
  if (problems.length) { showErrors(form, service, problems); return; }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  say("Saving…");
  try {
    const saved = await api("PATCH", `${API}/${service.id}`, out);
    const drawn = drawService(saved);
    document.getElementById(`service-${service.id}`).replaceWith(drawn);
    say(saved.availability.available_now ? `${saved.name} saved: listeners are offered it now.`
      : `${saved.name} saved: listeners are not offered it now (${saved.availability.unavailable_reason}).`, "good");
    drawn.querySelector("h3").setAttribute("tabindex", "-1");
    drawn.querySelector("h3").focus();
  } catch (err) {
    button.disabled = false;
    if (err.status === 422 && Array.isArray(err.detail)) {
      showErrors(form, service, err.detail.map((d) => [String(d.field).split(".")[0], d.message]));
    }
    say(plainError(err, { fields: FIELDS }), "danger");
  }
}

async function load() {
  try {
    const services = await api("GET", API);
    root.replaceChildren(...(services.length ? services.map(drawService)
      : [el("p", { class: "muted", text: "No services yet." })]));
  } catch (err) {
    root.replaceChildren(el("p", { class: "notice", text: `Your services could not be loaded. ${plainError(err)}` }));
  }
}

load();
