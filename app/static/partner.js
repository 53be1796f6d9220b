// The partner dashboard: a partner organisation's enhanced-support queues and one open ticket.
// Everything comes from /api/partner/v1; live events only say "something changed", so the page
// re-reads the queues (and the open ticket) itself: no caller details ever travel on the stream.
import { api, el as h, live, serverClock, statusArea, when as whenAt } from "/static/core.js";

const $ = (id) => document.getElementById(id);
const root = $("partner");
const API = "/api/partner/v1";
// Targets are counted on the server's clock; this corrects a worker's computer clock that is off.
const server = serverClock();
server.learn(root.dataset.serverNow);
const now = () => server.now();

const STATUS = {
  "requested": "New: accept or decline", "accepted": "Accepted: contact the caller",
  "on-hold": "On hold: not reached yet", "in-progress": "Handover confirmed", "completed": "Completed",
  "rejected": "Declined", "failed": "Handed back to the helpline", "cancelled": "Cancelled by the helpline",
};
// The queue's columns are narrow: short words there, the full sentence on the open ticket.
const STATUS_SHORT = { "requested": "New", "accepted": "Accepted", "on-hold": "On hold", "in-progress": "Handover confirmed" };
const TRAIL = { create: "Warm transfer made", accept: "Accepted", reject: "Declined", attempt_failed: "Contact attempt failed",
  confirm_contact: "Handover confirmed", complete: "Completed", give_up: "Handed back to the helpline",
  cancel: "Cancelled by the helpline", amend: "Changed by the helpline", take_back: "Back with the helpline team" };
// What each amendable field is called (transfers/tickets/words.py AMENDED_FIELDS).
const AMENDED = { detail: "A new detail", preferred_times: "Best times", contact_method: "Method", contact_number: "Number" };
const METHOD = { text: "Text message", phone: "Phone call" };
const STATUS_TONE = { "requested": "warn", "accepted": "", "on-hold": "warn", "in-progress": "ok", "completed": "ok" };
const RISK_TONE = { "high": "danger", "immediate": "danger", "moderate": "warn" };
const FIELD = { reason: "Reason", outcome: "Outcome", outcome_code: "How it ended", reroute: "Where the caller goes next", body: "Request" };
// The coded outcomes each action takes, by its path, in the helpline's words: served from the
// one list (transfers/tickets/states.py) when the page starts, never copied here.
const CODES = { complete: [], decline: [], "give-up": [] };
const CODE_WORDS = {};
// allowed_actions (the state table's words) -> the API path; "cancel" is the helpline's, never shown here.
const ACTIONS = [
  { allowed: "accept", path: "accept", label: "Accept", tone: "primary" },
  { allowed: "confirm_contact", path: "confirm-contact", label: "Confirm contact (caller reached)", tone: "primary" },
  { allowed: "attempt_failed", path: "contact-attempt", label: "Record a failed contact attempt" },
  { allowed: "complete", path: "complete", label: "Complete…", form: "complete" },
  { allowed: "reject", path: "decline", label: "Decline…", form: "decline" },
  { allowed: "give_up", path: "give-up", label: "Give up and hand back…", form: "give-up" },
];

const state = { services: new Map(), queues: new Map(), needs: new Map(), localities: new Map(), ticket: null, openId: null,
  fresh: new Set(), detailLoadedAt: 0 };

// ---- small helpers ---------------------------------------------------------------------------
const when = (iso) => whenAt(iso, new Date(now()));
const needLabel = (slug) => state.needs.get(slug) || slug.replace(/-/g, " ");
const needsText = (needs) => (needs || []).map(needLabel).join(", ") || "–";
const statusLabel = (s) => STATUS[s] || s;

// Time left rounds up (a minute and a bit is "2m" left); time overdue rounds down.
function span(ms, up) {
  const m = up ? Math.ceil(ms / 60000) : Math.floor(ms / 60000);
  if (m < 1) return "under a minute";
  const d = Math.floor(m / 1440), hrs = Math.floor((m % 1440) / 60), mins = m % 60;
  if (d) return `${d}d ${hrs}h`;
  if (hrs) return mins ? `${hrs}h ${mins}m` : `${hrs}h`;
  return `${mins}m`;
}

// "accept within 3h 12m" / "contact overdue by 20m"; amber in the last hour or last quarter.
function countdown(kind, by, from) {
  const due = Date.parse(by), left = due - now();
  if (left < 0) return { text: `${kind} overdue by ${span(-left)}`, tone: "overdue" };
  const whole = due - (Date.parse(from) || due);
  return { text: `${kind} within ${span(left, true)}`, tone: left <= 3600e3 || left <= whole / 4 ? "soon" : "ok" };
}
function countdownEl(kind, by, from, extraClass) {
  const el = h("span", { class: "partner-due " + (extraClass || ""), "data-kind": kind, "data-by": by, "data-from": from });
  paintCountdown(el);
  return el;
}
function paintCountdown(el) {
  const c = countdown(el.dataset.kind, el.dataset.by, el.dataset.from);
  el.textContent = c.text[0].toUpperCase() + c.text.slice(1);
  el.classList.remove("ok", "soon", "overdue");
  el.classList.add(c.tone);
}
function tick() { document.querySelectorAll(".partner-due[data-by]").forEach(paintCountdown); }

// The live targets of a ticket at its status: what the worker must do next, and by when.
function targetEls(t) {
  if (t.status === "requested") return [countdownEl("accept", t.accept_by, t.created_at),
    countdownEl("contact", t.contact_by, t.created_at, "minor")];
  if (t.status === "accepted" || t.status === "on-hold") return [countdownEl("contact", t.contact_by, t.created_at)];
  if (t.status === "in-progress") return [h("span", { class: "muted", text: "Support under way" })];
  return [h("span", { class: "muted", text: "No targets now" })];
}

const sayIn = statusArea($("status"));
const say = (message, tone, link) => sayIn(message, tone || "info", { link });

// ---- talking to the API ----------------------------------------------------------------------
// Resolves to { ok, status, data } (data: the JSON body, or the error body): each refusal has its
// own words on this page (explain), so none is thrown.
async function call(method, path, body) {
  try {
    return { ok: true, status: 200, data: await api(method, path, method === "GET" ? undefined : body || {}) };
  } catch (e) {
    const detail = e.status === 0 ? "Openline could not be reached. Check the connection and try again." : e.detail;
    return { ok: false, status: e.status, data: { error: e.error, detail, state: e.state } };
  }
}

function signedOut() {
  say("You have been signed out. Sign in again to carry on;", "alert",
    h("a", { href: "/login?next=/partner", text: "sign in" }));
}

// ---- queues ----------------------------------------------------------------------------------
function panelFor(serviceId) { return root.querySelector(`.partner-queue[data-service-id="${serviceId}"]`); }

async function loadServices() {
  const [services, needs, localities, codes] = await Promise.all([call("GET", `${API}/services`),
    call("GET", "/api/directory/needs"), call("GET", "/api/directory/localities"), call("GET", `${API}/outcome-codes`)]);
  if (needs.ok) for (const n of needs.data) state.needs.set(n.slug, n.label);
  if (codes.ok) {
    Object.assign(CODES, codes.data);
    for (const list of Object.values(CODES)) for (const { code, words } of list) CODE_WORDS[code] = words;
  }
  if (localities.ok) for (const l of localities.data) state.localities.set(l.slug, l.name);
  if (services.status === 401) return signedOut();
  if (!services.ok) return;
  for (const s of services.data) {
    state.services.set(s.id, s);
    const panel = panelFor(s.id);
    if (panel) panel.querySelector('[data-part="about"]').textContent = aboutService(s);
  }
}

function aboutService(s) {
  const hours = (s.hours || []).map((x) => `${x.days} ${x.opens}–${x.closes}`).join("; ") || "no set hours";
  const t = s.targets;
  return `Open ${hours}. Targets in opening hours: accept ${t.accept_hours}h, contact ${t.contact_hours}h ` +
    `(urgent: ${t.urgent_accept_hours}h and ${t.urgent_contact_hours}h).`;
}

async function loadQueues() {
  const panels = [...root.querySelectorAll(".partner-queue")];
  const results = await Promise.all(panels.map((p) => call("GET", `${API}/services/${p.dataset.serviceId}/queue`)));
  results.forEach((r, i) => {
    if (r.status === 401) return signedOut();
    if (!r.ok) {
      panels[i].querySelector('[data-part="tickets"]').replaceChildren(
        h("tr", {}, h("td", { colspan: 4, class: "muted", text: "This queue could not be loaded just now; retrying shortly." })));
      return;
    }
    state.queues.set(Number(panels[i].dataset.serviceId), r.data.tickets);
    drawQueue(panels[i], r.data.tickets);
  });
}

function drawQueue(panel, tickets) {
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.open : null;
  const body = panel.querySelector('[data-part="tickets"]');
  const urgent = tickets.filter((t) => t.urgent).length;
  const overdue = tickets.filter((t) => overdueNow(t)).length;
  panel.querySelector('[data-part="count"]').replaceChildren(
    h("strong", { text: `${tickets.length} open` }),
    urgent ? h("span", { class: "badge danger", text: `${urgent} urgent` }) : "",
    overdue ? h("span", { class: "badge danger", text: `${overdue} overdue` }) : "");
  if (!tickets.length) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 4, class: "muted", text: "No warm transfers waiting. New ones appear here by themselves." })));
    return;
  }
  body.replaceChildren(...tickets.map((t) => {
    const open = String(t.id) === String(state.openId);
    const tr = h("tr", { class: [t.urgent ? "urgent" : "", open ? "open" : ""].join(" ").trim() || null,
      "aria-current": open ? "true" : null, "data-ticket": t.id },
      h("td", {},
        h("button", { type: "button", class: "partner-open", "data-open": t.id,
          "aria-label": `Open ticket ${t.id}${t.urgent ? ", urgent" : ""}`, text: `#${t.id}` }),
        t.urgent ? h("span", { class: "badge danger", text: "Urgent" }) : "",
        state.fresh.has(t.id) ? h("span", { class: "badge ok", text: "Just arrived" }) : "",
        t.amendment_version ? h("span", { class: "badge warn", title: `Changed by the helpline after sending (version ${t.amendment_version})`,
          text: "Changed" }) : "",
        h("div", { class: "muted small", text: `arrived ${when(t.created_at)}` })),
      h("td", { text: needsText(t.needs) }),
      h("td", {}, h("span", { class: `badge ${STATUS_TONE[t.status] || ""}`, title: statusLabel(t.status),
        text: STATUS_SHORT[t.status] || statusLabel(t.status) })),
      h("td", { class: "partner-targets" }, targetEls(t)));
    tr.addEventListener("click", (e) => { if (!e.target.closest("button")) openTicket(t.id); });
    return tr;
  }));
  if (focused) {
    const again = body.querySelector(`[data-open="${focused}"]`);
    if (again) again.focus();
  }
}

function overdueNow(t) {
  const by = t.status === "requested" ? t.accept_by : (t.status === "accepted" || t.status === "on-hold") ? t.contact_by : null;
  return by != null && Date.parse(by) < now();
}

let queueTimer = null;
function refreshQueuesSoon() {
  clearTimeout(queueTimer);
  queueTimer = setTimeout(loadQueues, 250);  // several events in a burst: one re-read
}

root.addEventListener("click", (e) => {
  const button = e.target.closest("button[data-open]");
  if (button) openTicket(Number(button.dataset.open));
});

// ---- the open ticket ---------------------------------------------------------------------------
async function openTicket(id, { focus = true } = {}) {
  state.openId = id;
  state.fresh.delete(id);
  if (location.hash !== `#ticket-${id}`) history.replaceState(null, "", `#ticket-${id}`);
  markOpenRow();
  await loadDetail(id);
  if (focus) $("detail-title").focus();
}

function markOpenRow() {
  root.querySelectorAll("tr[data-ticket]").forEach((tr) => {
    const open = tr.dataset.ticket === String(state.openId);
    tr.classList.toggle("open", open);
    if (open) tr.setAttribute("aria-current", "true"); else tr.removeAttribute("aria-current");
  });
}

async function loadDetail(id) {
  const r = await call("GET", `${API}/tickets/${id}`);
  if (String(id) !== String(state.openId)) return;  // the worker opened another one meanwhile
  if (r.status === 401) return signedOut();
  if (!r.ok) {
    state.ticket = null;
    $("detail-title").textContent = `Ticket #${id}`;
    $("detail-body").replaceChildren(h("p", { class: "notice",
      text: r.status === 404 ? "This ticket is not in your organisation's queues any more." : "This ticket could not be loaded; try again in a moment." }));
    return;
  }
  state.detailLoadedAt = Date.now();
  drawDetail(r.data);
}

function field(term, value, extra) {
  return [h("dt", { text: term }), h("dd", {}, value == null || value === "" ? h("span", { class: "muted", text: "not given" }) : value, extra || "")];
}

function drawDetail(t) {
  state.ticket = t;
  $("detail-title").textContent = `Ticket #${t.ticket_id} · ${t.service}`;
  const parts = [];
  parts.push(h("p", { class: "partner-detail-badges" },
    t.urgent ? h("span", { class: "badge danger", text: "Urgent" }) : "",
    h("span", { class: `badge ${STATUS_TONE[t.status] || ""}`, text: statusLabel(t.status) })));
  if (t.handover_confirmed) {
    parts.push(h("p", { class: "good partner-handover", id: "handover" },
      h("strong", { text: "Handover confirmed" }), ` ${when(t.handover_at)}. The caller is now with ${t.service}.`));
  }
  if (t.status === "cancelled") parts.push(h("p", { class: "notice", text: `The helpline cancelled this warm transfer${t.status_reason ? ": " + t.status_reason : ""}. Please do not contact the caller.` }));
  if (t.status === "rejected" || t.status === "failed") parts.push(h("p", { class: "notice", text: t.what_next }));
  if (t.outcome_code) parts.push(h("p", { class: t.status === "completed" ? "good" : "muted", text: `How it ended: ${CODE_WORDS[t.outcome_code] || t.outcome_code}` }));
  if (t.outcome) parts.push(h("p", { class: "good", text: `Outcome: ${t.outcome}` }));
  const amendments = t.amendments || [];
  if (amendments.length) parts.push(amendmentsBox(amendments));

  parts.push(h("div", { class: "partner-actions-area", id: "actions-area" }, actionButtons(t)));

  const risk = t.risk_level || "none";
  parts.push(h("h3", { text: "What the caller agreed to share" }),
    h("dl", { class: "partner-fields" },
      field("Consent covers", t.consent && t.consent.covers, t.consent ? h("span", { class: "muted", text: ` (recorded ${when(t.consent.recorded_at)})` }) : ""),
      field("Summary", t.shared_summary),
      ...((t.added_details || []).length ? field("Added after sending",
        h("ul", { class: "partner-added" }, t.added_details.map((d) => h("li", { class: "amended", text: d })))) : []),
      field("Needs", needsText(t.needs)),
      field("Risk", h("span", { class: `badge ${RISK_TONE[risk] || ""}`, text: risk })),
      field("Age", t.age == null ? null : String(t.age)),
      field("Area", t.locality && (state.localities.get(t.locality) || t.locality.replace(/-/g, " ")))));
  const number = t.contact_number ? h("a", { href: `tel:${t.contact_number}`, class: "partner-number", text: t.contact_number }) : null;
  // A field the helpline changed after sending is marked, with the version that changed it.
  const changedIn = {};
  for (const a of amendments) for (const f of a.fields) changedIn[f] = a.version;
  const marked = (name, term, value) => {
    const parts2 = field(term, value, changedIn[name] ? h("span", { class: "badge warn amended-tag", text: `changed (v${changedIn[name]})` }) : "");
    if (changedIn[name]) parts2[1].classList.add("amended");
    return parts2;
  };
  parts.push(h("h3", { text: "How and when to reach them" }),
    h("dl", { class: "partner-fields" },
      field("Name", t.caller_name),
      ...marked("contact_number", "Number", number),
      ...marked("contact_method", "Method", METHOD[t.contact_method] || t.contact_method),
      ...marked("preferred_times", "Best times", t.preferred_times),
      field("Texts (SMS)", t.consent && t.consent.sms ? "The caller agreed to texts" : "No texts: the caller did not agree to them"),
      field("Tries so far", String(t.contact_attempts || 0))));
  parts.push(h("h3", { text: "Targets" }),
    h("dl", { class: "partner-fields" },
      field("Accept by", when(t.accept_by), t.status === "requested" ? [" ", countdownEl("accept", t.accept_by, t.created_at)] : t.accepted_at ? h("span", { class: "muted", text: ` · accepted ${when(t.accepted_at)}` }) : ""),
      field("Contact by", when(t.contact_by), (t.status === "accepted" || t.status === "on-hold" || t.status === "requested") ? [" ", countdownEl("contact", t.contact_by, t.created_at)] : t.handover_at ? h("span", { class: "muted", text: ` · reached ${when(t.handover_at)}` }) : "")));
  if ((t.journey || []).length) {
    parts.push(h("h3", { text: "Others helping this caller" }),
      h("p", { class: "muted small", text: "The caller agreed that the services helping them may see where each warm transfer stands. Their notes stay with them." }),
      h("ul", { class: "partner-journey" }, t.journey.map((j) => h("li", {},
        h("strong", { text: j.service }), j.yours ? h("span", { class: "muted", text: " (yours)" }) : "", ": ",
        h("span", { class: `badge ${STATUS_TONE[j.status] || ""}`, text: statusLabel(j.status) }),
        h("span", { class: "muted small", text: ` · ${when(j.updated_at)}` })))));
  }
  parts.push(h("h3", { text: "Trail" }),
    h("ol", { class: "partner-trail" }, (t.events || []).map((e) => h("li", {},
      h("time", { datetime: e.at, text: when(e.at) }), " ",
      h("strong", { text: TRAIL[e.action] || e.action.replace(/_/g, " ") }), " by ", actorName(e.actor),
      e.from ? ` (${e.from} → ${e.to})` : ` (${e.to})`,
      e.outcome_code ? h("div", { class: "muted", text: CODE_WORDS[e.outcome_code] || e.outcome_code }) : "",
      e.reason ? h("div", { class: "muted", text: e.reason }) : ""))));
  $("detail-body").replaceChildren(...parts);
}

function showValue(name, value) {
  if (value == null || value === "") return "not given";
  return name === "contact_method" ? (METHOD[value] || value) : value;
}

// What the helpline changed after sending, newest first: each version with before and after.
function amendmentsBox(amendments) {
  const latest = amendments[amendments.length - 1];
  return h("section", { class: "partner-amended", id: "amendments", "aria-labelledby": "amendments-title" },
    h("h3", { id: "amendments-title", text: `Changed by the helpline after sending · version ${latest.version}` }),
    h("ol", { class: "plain" }, [...amendments].reverse().map((a) => h("li", { "data-version": a.version },
      h("p", { class: "small" }, h("strong", { text: `Version ${a.version}` }), ` · ${when(a.at)} by ${actorName(a.actor)}`),
      h("ul", {}, a.fields.map((f) => {
        const c = a.changes[f] || {};
        return h("li", {}, h("strong", { text: `${AMENDED[f] || f}: ` }),
          f === "detail" ? h("span", { text: c.after })
            : [h("del", { text: showValue(f, c.before) }), " → ", h("ins", { text: showValue(f, c.after) })]);
      }))))));
}

function actorName(actor) {
  if (!actor) return "someone";
  if (actor.startsWith("user:")) return actor.slice(5);
  if (actor.startsWith("apikey:")) return "your case system";
  if (actor.startsWith("openline:")) return "Openline";
  return actor;
}

function actionButtons(t) {
  const offered = ACTIONS.filter((a) => (t.allowed_actions || []).includes(a.allowed));
  if (!offered.length) return [h("p", { class: "muted", text: "Nothing more to do on this ticket." })];
  return [h("div", { class: "partner-actions", role: "group", "aria-label": "What to do with this ticket" },
    offered.map((a) => h("button", { type: "button", class: a.tone || null, "data-action": a.path,
      onclick: () => a.form ? showForm(a) : act(a.path, {}), text: a.label })))];
}

function showForm(a) {
  const area = $("actions-area");
  const isDecline = a.form === "decline", isComplete = a.form === "complete";
  const name = isComplete ? "outcome" : "reason";
  const id = `action-${name}`;
  const label = isDecline ? "Why are you declining? (required)" : isComplete ? "How did the support end? (required)"
    : "Why are you handing this back? (required)";
  const hint = isDecline ? "The helpline and the next service see this reason."
    : isComplete ? "A sentence is enough: what was done, and where the caller is now."
    : "The helpline team picks the caller up from their follow-up queue.";
  const text = h("textarea", { id, name, required: true, maxlength: 1000, "aria-describedby": `${id}-hint ${id}-error` });
  const error = h("p", { class: "partner-field-error", id: `${id}-error`, role: "alert" });
  const code = h("select", { id: "action-outcome-code", name: "outcome_code", required: true, "aria-describedby": `${id}-error` },
    h("option", { value: "", text: "Choose…" }),
    (CODES[a.path] || []).map(({ code: value, words }) => h("option", { value, text: words })));
  const form = h("form", { class: "partner-action-form", novalidate: true },
    h("label", { for: code.id, text: isComplete ? "How was the caller helped? (required)" : "Why did it not go through? (required)" }), code,
    h("label", { for: id, text: label }), text, h("p", { class: "muted small", id: `${id}-hint`, text: hint }), error,
    isDecline ? h("fieldset", {}, h("legend", { text: "Where should the caller go next?" }),
      h("label", { class: "partner-choice" }, h("input", { type: "radio", name: "reroute", value: "next", checked: true }),
        " Send to the next suggested service"),
      h("label", { class: "partner-choice" }, h("input", { type: "radio", name: "reroute", value: "helpline" }),
        " Ask the helpline team to choose with the caller")) : "",
    h("div", { class: "partner-actions" },
      h("button", { type: "submit", class: isComplete ? "primary" : "danger",
        text: isDecline ? "Decline" : isComplete ? "Complete" : "Give up and hand back" }),
      h("button", { type: "button", text: "Back", onclick: () => { area.replaceChildren(...actionButtons(state.ticket)); area.querySelector("button").focus(); } })));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = text.value.trim();
    if (!code.value) {
      error.textContent = isComplete ? "Choose how the caller was helped." : "Choose why it did not go through.";
      code.setAttribute("aria-invalid", "true");
      code.focus();
      return;
    }
    if (!value) {
      error.textContent = isComplete ? "Write how the support ended." : "Write a reason first.";
      text.setAttribute("aria-invalid", "true");
      text.focus();
      return;
    }
    const body = { [name]: value, outcome_code: code.value };
    if (isDecline) body.reroute = form.querySelector('input[name="reroute"]:checked').value;
    act(a.path, body, form);
  });
  area.replaceChildren(form);
  code.focus();
}

const DONE = {
  "accept": (t) => `You accepted ticket #${t.ticket_id}. Contact the caller by ${when(t.contact_by)}.`,
  "contact-attempt": (t) => `Failed contact attempt recorded (${t.contact_attempts} so far). Try again, or give up and hand back to the helpline.`,
  "confirm-contact": (t) => `Handover confirmed for ticket #${t.ticket_id}. Record the outcome when the support ends.`,
  "complete": (t) => `Ticket #${t.ticket_id} completed. Thank you.`,
  "decline": (t) => t.what_next,
  "give-up": (t) => `Ticket #${t.ticket_id} handed back to the helpline team's follow-up queue.`,
};

async function act(path, body, form) {
  const t = state.ticket;
  if (!t) return;
  const buttons = $("detail-body").querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  say("Saving…");
  const r = await call("POST", `${API}/tickets/${t.ticket_id}/${path}`, body);
  buttons.forEach((b) => { b.disabled = false; });
  if (r.ok) {
    drawDetail(r.data);
    say(DONE[path](r.data, body), "good");
    refreshQueuesSoon();
    $("detail-title").focus();  // the buttons were redrawn; keep the keyboard in the ticket
    return;
  }
  explain(r, t, form);
}

function explain(r, t, form) {
  const d = r.data || {};
  if (r.status === 409) {
    say(`Someone else got there first: ticket #${t.ticket_id} has changed. Showing the latest.`, "notice");
    loadDetail(t.ticket_id);
    refreshQueuesSoon();
  } else if (r.status === 422) {
    const list = Array.isArray(d.detail) ? d.detail : [{ field: "body", message: String(d.detail || "check the form") }];
    say("Please check: " + list.map((x) => `${FIELD[x.field] || x.field}: ${x.message}`).join("; ") + ".", "alert");
    if (form) {
      const first = list[0] && form.querySelector(`[name="${list[0].field}"]`);
      const error = form.querySelector(".partner-field-error");
      if (error) error.textContent = list.map((x) => x.message).join("; ");
      if (first) { first.setAttribute("aria-invalid", "true"); first.focus(); }
    }
  } else if (r.status === 401) {
    signedOut();
  } else if (r.status === 403) {
    say("Openline refused that: " + (typeof d.detail === "string" ? d.detail : "reload the page and try again."), "alert");
  } else if (r.status === 404) {
    say(`Ticket #${t.ticket_id} is not in your organisation's queues any more.`, "alert");
    refreshQueuesSoon();
  } else {
    say(typeof d.detail === "string" && r.status === 0 ? d.detail
      : `That did not work (error ${r.status}). Nothing was changed; try again in a moment.`, "alert");
  }
}

// ---- live updates --------------------------------------------------------------------------------
function onTicketEvent(kind) {
  return (payload) => {
    const data = payload || {};  // nothing to go on: refresh anyway
    refreshQueuesSoon();
    if (kind === "ticket.created" || kind === "ticket.rerouted") {
      state.fresh.add(data.ticket_id);
      say(`New warm transfer #${data.ticket_id}${data.urgent ? " (urgent)" : ""} for ${data.service || "your service"}.`);
    } else if (kind === "ticket.amended" && data.ticket_id != null) {
      const fields = ((data.amendment && data.amendment.fields) || []).map((f) => (AMENDED[f] || f).toLowerCase());
      say(`The helpline changed ticket #${data.ticket_id}${fields.length ? ": " + fields.join(", ") : ""}.`, "notice");
    } else if (kind === "ticket.breach" && data.ticket_id != null) {
      say(`Ticket #${data.ticket_id} has passed its ${data.breach ? data.breach + " " : ""}target.`, "notice");
    }
    const open = state.ticket;
    // An amendment can land in the same instant as the last change: its version tells them apart.
    const changed = data.updated_at !== open?.updated_at || (data.amendment_version ?? 0) !== (open?.amendment_version ?? 0);
    if (open && data.ticket_id === open.ticket_id && changed) {
      if (kind === "ticket.cancelled") say(`The helpline cancelled ticket #${data.ticket_id}.`, "notice");
      loadDetail(open.ticket_id);
    }
  };
}

function connect() {
  const conn = $("conn");
  const stream = live({
    hello: () => {
      conn.hidden = true;
      loadQueues();
      // The detail read is audited: skip it when it was read a moment ago by the first load.
      if (state.openId != null && Date.now() - state.detailLoadedAt > 3000) loadDetail(state.openId);
    },
  }, { onState: (s) => {
    conn.hidden = s === "live";
    conn.textContent = s === "stopped" ? "live updates stopped: reload the page" : "reconnecting…";
  } });
  for (const kind of ["ticket.created", "ticket.rerouted", "ticket.changed", "ticket.cancelled", "ticket.breach", "ticket.amended"]) {
    stream.on(kind, onTicketEvent(kind));
  }
}

// ---- start -----------------------------------------------------------------------------------
async function start() {
  await loadServices();
  await loadQueues();
  const wanted = /^#ticket-(\d+)$/.exec(location.hash);
  if (wanted) openTicket(Number(wanted[1]), { focus: false });
}
start();
connect();
setInterval(tick, 30000);
// A dropped live connection never leaves the queues stale for long (queue reads carry no personal data).
setInterval(loadQueues, 60000);
