// The warm-transfer panel under the call card: suggestions with their reasons, making a warm
// transfer (queued, or live while the caller is on the line), and following each one until the
// partner confirms the handover (or declines it, with the partner's reason).
import { api, el, plainError, ticketStatus } from "/static/core.js";
import { page } from "/static/listener.js";

const panel = document.getElementById("transfer-panel");
const LIVE_WORDS = {
  ringing: "Ringing the partner's line. The caller is on hold.",
  joined: "The partner is on the line. Brief them, then hand over.",
  "no-answer": "No answer. The caller is back with you; the warm transfer waits in the partner's queue.",
  failed: "The partner's line could not be dialled. The warm transfer waits in their queue.",
};
// Still with the partner to accept or reach: targets to show, and the transfer may be cancelled.
const OPEN = ["requested", "accepted", "on-hold"];
let card = null;
let transfers = [];
let suggestions = null;
let idempotencyKey = null;

const fieldErrors = (err) => plainError(err, { fields: FIELDS });
const FIELDS = { contact_number: "Contact number", caller_name: "Name", preferred_times: "When to contact them",
  age: "Age", locality: "Locality", reason: "Reason", detail: "New detail", contact_method: "How to reach them" };

async function load() {
  if (!card) { transfers = []; draw(); return; }
  try { transfers = await api("GET", `/api/listener/sessions/${card.id}/transfers`); } catch (e) { transfers = []; }
  draw();
}

async function findServices(form) {
  const query = new URLSearchParams();
  if (form.age.value) query.set("age", form.age.value);
  if (form.locality.value) query.set("locality", form.locality.value);
  if (form.urgent.checked) query.set("urgent", "true");
  try {
    suggestions = await api("GET", `/api/listener/sessions/${card.id}/suggestions?${query}`);
    idempotencyKey = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
  } catch (e) { page.say(fieldErrors(e), "error"); }
  draw();
}

async function makeTransfer(suggestion, mode, button) {
  const form = panel.querySelector("#transfer-details");
  const body = {
    service_id: suggestion.service_id, mode, urgent: form.urgent.checked,
    contact_number: form.contact_number.value.trim() || null,
    caller_name: form.caller_name.value.trim() || null,
    preferred_times: form.preferred_times.value.trim() || null,
    age: form.age.value ? Number(form.age.value) : null,
    locality: form.locality.value || null,
    share_journey: form.share_journey.checked,
  };
  button.disabled = true;
  try {
    // An Idempotency-Key: a double click makes one warm transfer.
    await api("POST", `/api/listener/sessions/${card.id}/transfers`, body,
      { idempotencyKey: `${idempotencyKey}:${suggestion.service_id}` });
    page.say(mode === "live" ? `Ringing ${suggestion.name}…` : `Warm transfer sent to ${suggestion.name}.`, "ok");
    suggestions = null;
    await load();
  } catch (e) {
    button.disabled = false;
    page.say(fieldErrors(e), "error");
  }
}

async function act(ticket, path, body, done) {
  try {
    await api("POST", `/api/helpline/tickets/${ticket.ticket_id}/${path}`, body);
    page.say(done, "ok");
  } catch (e) { page.say(fieldErrors(e), "error"); }
  await load();
}

function drawTicket(ticket) {
  const handed = ticket.handover_confirmed;
  const item = el("li", { class: "transfer" + (handed ? " handed" : ""), "data-ticket": ticket.ticket_id },
    el("p", { class: "transfer-head" }, el("strong", {}, ticket.service), " · ",
      el("span", { class: "transfer-status", "data-status": ticket.status }, ticketStatus(ticket.status))),
    ticket.urgent ? el("span", { class: "badge urgent" }, "urgent") : null,
    ticket.mode === "live" || ticket.live_state ? el("p", { class: "live-state" }, LIVE_WORDS[ticket.live_state] || "") : null,
    handed ? el("p", { class: "muted" }, `The partner confirmed contact ${page.when(ticket.handover_at)}.`)
      : OPEN.includes(ticket.status) ? el("p", { class: "muted" }, `Accept by ${page.when(ticket.accept_by)} · contact by ${page.when(ticket.contact_by)}`) : null,
    ticket.status === "rejected" && ticket.status_reason
      ? el("p", { class: "decline-reason" }, el("strong", {}, "The partner's reason: "), ticket.status_reason) : null,
    ticket.rerouted_to_id ? el("p", { class: "muted" }, "Re-routed to the next service (see below).") : null,
    ticket.outcome_words ? el("p", { class: "muted small outcome-code" }, `How it ended: ${ticket.outcome_words}`) : null,
    ticket.amendment_version ? el("p", { class: "muted small" },
      `Changed after sending: version ${ticket.amendment_version} (the partner has been told).`) : null,
    ticket.follow_up ? el("p", { class: "warn" }, `Follow-up for the team: ${ticket.follow_up}`) : null);
  if (ticket.live_state === "joined" && ticket.status === "requested") {
    item.append(el("button", { type: "button", class: "primary", onclick: () =>
      act(ticket, "handover", undefined, "Handing over: the caller is off hold and you are leaving the call.") },
      "Hand over and leave the call"));
  }
  if (AMENDABLE.includes(ticket.status)) item.append(amendForm(ticket));
  if (OPEN.includes(ticket.status)) {
    const reasonId = `cancel-reason-${ticket.ticket_id}`;
    const cancel = el("details", { class: "cancel" }, el("summary", {}, "Cancel this warm transfer"),
      el("label", { for: reasonId }, "Reason (e.g. the caller withdrew consent)"),
      el("textarea", { id: reasonId, rows: 2, required: true }),
      el("button", { type: "button", onclick: () => {
        const reason = document.getElementById(reasonId).value.trim();
        if (reason.length < 3) { page.say("Give a reason to cancel.", "error"); return; }
        act(ticket, "cancel", { reason }, "Warm transfer cancelled; the partner has been told.");
      } }, "Cancel warm transfer"));
    item.append(cancel);
  }
  return item;
}

// Capacity as the partner gave it, beside the suggestion: places, waiting list, how fresh.
function capacityLine(s) {
  const words = s.capacity_words || [];
  if (!words.length) return null;
  const last = words.length - 1;
  return el("p", { class: "capacity", "data-capacity": s.service_id },
    words.map((w, i) => el("span", { class: "badge" + ((i === 0 && s.at_capacity) || (i === last && s.capacity_stale) ? " warn" : "") }, w)));
}

// Until a ticket closes the listener can add to it; the partner sees each change as a version.
const AMENDABLE = [...OPEN, "in-progress"];
function amendForm(ticket) {
  const id = (name) => `amend-${name}-${ticket.ticket_id}`;
  const form = el("form", { class: "amend", onsubmit: (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    const body = {
      detail: f.detail.value.trim() || null,
      preferred_times: f.preferred_times.value.trim() || null,
      contact_method: f.contact_method.value || null,
    };
    if (!body.detail && !body.preferred_times && !body.contact_method) { page.say("Add a detail or change how or when to reach the caller.", "error"); return; }
    act(ticket, "amendments", body, `Warm transfer to ${ticket.service} changed; the partner has been told.`);
  } },
    el("label", { for: id("detail") }, "A new detail for the partner"),
    el("textarea", { id: id("detail"), name: "detail", rows: 2, maxlength: 2000 }),
    el("label", { for: id("times") }, "When to contact them now"),
    el("input", { id: id("times"), name: "preferred_times", placeholder: ticket.preferred_times || "e.g. weekdays after 6pm", maxlength: 300 }),
    el("label", { for: id("method") }, "How to reach them"),
    el("select", { id: id("method"), name: "contact_method" }, el("option", { value: "" }, "No change"),
      ...["phone", "text"].filter((m) => m !== ticket.contact_method)
        .map((m) => el("option", { value: m }, m === "text" ? "Text message" : "Phone call"))),
    el("button", { type: "submit" }, "Send the change to the partner"));
  return el("details", { class: "amend" }, el("summary", {}, "Add to this warm transfer"), form);
}

function drawSuggestion(s) {
  // A service its partner has paused or closed is still shown (the locality team as the last
  // resort) with the reason, but cannot take a warm transfer until it reopens. A service at
  // capacity can still be chosen: the listener is told so before sending, to tell the caller.
  const closed = s.available === false;
  const full = s.at_capacity && !closed;
  const noticeId = `at-capacity-${s.service_id}`;
  const sendAttrs = full ? { "aria-describedby": noticeId } : {};
  return el("li", { class: "suggestion" + (s.fallback ? " fallback" : "") + (closed ? " unavailable" : "") + (full ? " at-capacity" : "") },
    el("p", {}, el("strong", {}, s.name), " ", el("span", { class: "muted" }, s.organisation),
      closed ? [" ", el("span", { class: "badge warn" }, "not taking warm transfers now")] : null),
    capacityLine(s),
    el("ul", { class: "reasons" }, s.reasons.map((r) => el("li", {}, r))),
    full ? el("p", { class: "notice at-capacity-notice", id: noticeId },
      `${s.name} is at capacity. You can still send this warm transfer: it waits in their queue and may take longer`
      + (s.waiting_list ? ` (waiting list ${WAITS[s.waiting_list] || s.waiting_list})` : "") + ". Tell the caller before you send.") : null,
    el("div", { class: "row" },
      el("button", { type: "button", disabled: closed, ...sendAttrs, onclick: (e) => makeTransfer(s, "queue", e.currentTarget) },
        full ? "Warm transfer to their queue anyway" : "Warm transfer to their queue"),
      s.live_transfer_possible && !closed ? el("button", { type: "button", class: "primary", ...sendAttrs,
        onclick: (e) => makeTransfer(s, "live", e.currentTarget) }, full ? "Transfer live now anyway" : "Transfer live now") : null));
}
const WAITS = { "under-a-week": "under a week", "1-4-weeks": "1–4 weeks", "over-4-weeks": "longer than 4 weeks" };

function detailsForm(previous) {
  const v = (name) => (previous && previous[name]) || "";
  return el("form", { id: "transfer-details", class: "transfer-form", onsubmit: (e) => { e.preventDefault(); findServices(e.target); } },
    el("div", { class: "grid2" },
      el("label", {}, "Age (if known)", el("input", { name: "age", type: "number", min: 0, max: 120, value: v("age") })),
      el("label", {}, "Locality", el("select", { name: "locality" }, el("option", { value: "" }, "Not known"),
        ...localities.map((l) => el("option", { value: l.slug, selected: v("locality") === l.slug }, l.name)))),
      el("label", {}, "Contact number", el("input", { name: "contact_number", type: "tel", autocomplete: "off",
        placeholder: "the number they rang from", value: v("contact_number") })),
      el("label", {}, "Name the caller gave", el("input", { name: "caller_name", autocomplete: "off", value: v("caller_name") })),
      el("label", { class: "span2" }, "When to contact them", el("input", { name: "preferred_times", placeholder: "e.g. weekdays after 6pm", value: v("preferred_times") })),
      el("label", { class: "check" }, el("input", { name: "urgent", type: "checkbox", checked: Boolean(previous && previous.urgent) }), " Urgent"),
      el("label", { class: "check span2" }, el("input", { name: "share_journey", type: "checkbox", checked: Boolean(previous && previous.share_journey) }),
        " The caller agrees that the services helping them may see each other's progress")),
    el("button", { type: "submit" }, suggestions ? "Refresh suggestions" : "Find services"));
}

let localities = [];
function remember() {
  const form = panel.querySelector("#transfer-details");
  if (!form) return null;
  return { age: form.age.value, locality: form.locality.value, contact_number: form.contact_number.value,
           caller_name: form.caller_name.value, preferred_times: form.preferred_times.value, urgent: form.urgent.checked,
           share_journey: form.share_journey.checked };
}

function draw() {
  const previous = remember();
  panel.replaceChildren();
  if (!card) { panel.hidden = true; return; }
  panel.hidden = false;
  panel.append(el("h2", {}, "Warm transfer"));
  if (transfers.length) panel.append(el("ul", { class: "plain transfers", "aria-live": "polite" }, transfers.map(drawTicket)));
  panel.append(el("p", { class: "muted" }, "Record the caller's consent in the log first. What you logged travels with the transfer."));
  panel.append(detailsForm(previous));
  if (suggestions) {
    panel.append(suggestions.length ? el("ol", { class: "plain suggestions" }, suggestions.map(drawSuggestion))
      : el("p", { class: "warn" }, "No services found. Ask your supervisor."));
  }
}

document.addEventListener("openline:session", (e) => {
  const next = e.detail;
  if (!next || !card || next.id !== card.id) suggestions = null;
  card = next;
  load();
});
for (const type of ["ticket.changed", "follow-up.created", "hello"]) page.onLive(type, () => load());

api("GET", "/api/directory/localities").then((rows) => { localities = rows; draw(); }).catch(() => {});
card = page.currentSession();
load();
