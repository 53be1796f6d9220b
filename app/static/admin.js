// The admin page: people, partner API keys and webhooks, the directory, need categories and the
// audit, over /api/admin and /api/directory. Every request goes through core.js's api().
import { api, el, when, plainError, plural, dateInWords, ApiError } from "/static/core.js";
import { initLine, loadLine } from "/static/admin-line.js";

const $ = (sel, root = document) => root.querySelector(sel);
const state = { me: null, organisations: [], needs: [], localities: [], people: [], services: [], auditPage: 1 };
const TARGETS = ["accept_hours", "contact_hours", "urgent_accept_hours", "urgent_contact_hours"];
const ROLE = { listener: "Listener", supervisor: "Supervisor", partner: "Partner worker", admin: "Admin" };

// ---- status line and field errors -------------------------------------------------------------
function say(text, { error = false, once } = {}) {
  const box = $("#status");
  box.className = "admin-status" + (error ? " error" : "");
  box.replaceChildren(text, once ? el("div", { class: "admin-once", "data-once": true, text: once }) : "");
}

function clearErrors(form) {
  for (const node of form.querySelectorAll("[data-error-for], .admin-field-error[data-error]")) {
    if (node.dataset.errorFor) node.remove(); else node.textContent = "";
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

// A 422 names its fields: each message goes under its own field (or the form's catch-all line).
function showErrors(form, err) {
  if (!(err instanceof ApiError) || err.status !== 422 || !Array.isArray(err.detail)) {
    say(plainError(err), { error: true });
    return;
  }
  for (const item of err.detail) {
    const parts = String(item.field || "").split(".");
    const name = parts.find((p) => form.elements[p]) || parts[0];
    const input = form.elements[name];
    const slot = form.querySelector(`.admin-field-error[data-error="${name}"]`);
    if (input && input.nodeType === 1) {
      input.setAttribute("aria-invalid", "true");
      const id = `err-${form.id}-${name}`;
      input.setAttribute("aria-describedby", id);
      input.closest("label").append(el("span", { class: "admin-field-error", id, "data-error-for": name, text: item.message }));
    } else if (slot) slot.textContent = item.message;
    else say(plainError(err), { error: true });
  }
  say("Nothing was saved: check the fields marked in red.", { error: true });
  const first = form.querySelector("[aria-invalid]");
  if (first) first.focus();
}

function values(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) out[k] = typeof v === "string" ? v.trim() : v;
  return out;
}
const orNull = (v) => (v === "" || v == null ? null : v);
const numberOrNull = (v) => (v === "" || v == null ? null : Number(v));

function wire(form, submit) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try { await submit(values(form)); } catch (err) { showErrors(form, err); } finally { button.disabled = false; }
  });
}

async function act(fn) {
  try { await fn(); } catch (err) { say(plainError(err), { error: true }); }
}

// ---- tabs -------------------------------------------------------------------------------------
function openTab(name) {
  for (const b of document.querySelectorAll("[data-tab]")) {
    if (b.dataset.tab === name) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
  for (const s of document.querySelectorAll(".admin-tab")) s.hidden = s.id !== `tab-${name}`;
  const loaders = { keys: loadKeys, webhooks: loadDeliveries, audit: loadAudit, directory: loadServices, needs: loadNeeds, line: loadLine };
  if (loaders[name]) act(loaders[name]);
  history.replaceState(null, "", `#${name}`);
}

// ---- reference lists --------------------------------------------------------------------------
const orgName = (id) => (state.organisations.find((o) => o.id === id) || {}).name || "–";

async function loadOrganisations() {
  state.organisations = await api("GET", "/api/directory/organisations");
  for (const select of document.querySelectorAll("[data-organisations]")) {
    const kept = select.value;
    select.replaceChildren(...state.organisations.map((o) => el("option", { value: o.id, text: o.name })));
    if (kept) select.value = kept;
  }
  $("#organisations tbody").replaceChildren(...state.organisations.map((o) => el("tr", { "data-organisation": o.slug },
    el("td", {}, el("strong", { text: o.name }), el("br"), el("small", { class: "muted", text: o.slug })),
    el("td", {}, o.email || "–", el("br"), o.website ? el("small", { class: "muted", text: o.website }) : ""),
    el("td", {}, el("button", { type: "button", text: "Change", "aria-label": `Change ${o.name}`, onclick: () => editOrganisation(o) })))));
}

// ---- people -----------------------------------------------------------------------------------
async function loadPeople() {
  state.people = await api("GET", "/api/admin/users");
  $("#people tbody").replaceChildren(...state.people.map((p) => el("tr", { "data-user": p.username },
    el("td", {}, el("strong", { text: p.display_name }), el("br"), el("small", { class: "muted", text: p.username })),
    el("td", { text: ROLE[p.role] + (p.role === "partner" ? ` · ${orgName(p.organisation_id)}` : "") }),
    el("td", { text: p.role === "partner" ? "–" : (p.dial_address || "Browser headset") }),
    el("td", {}, el("span", { class: `badge ${p.is_active ? "ok" : "warn"}`, text: p.is_active ? "Active" : "Deactivated" })),
    el("td", {}, el("div", { class: "actions" },
      el("button", { type: "button", text: "Change", "aria-label": `Change ${p.username}`, onclick: () => editPerson(p) }),
      el("button", { type: "button", text: "Reset password", "aria-label": `Reset the password of ${p.username}`, onclick: () => resetPassword(p) }),
      p.username === (state.me && state.me.username) ? ""
        : p.is_active
        ? el("button", { type: "button", class: "danger", text: "Deactivate", "aria-label": `Deactivate ${p.username}`, onclick: () => setActive(p, false) })
        : el("button", { type: "button", text: "Reactivate", "aria-label": `Reactivate ${p.username}`, onclick: () => setActive(p, true) }))))));
}

function personFormMode() {
  const form = $("#person-form");
  const editing = Boolean(form.elements.id.value);
  const role = form.elements.role.value;
  for (const node of form.querySelectorAll("[data-when]")) {
    const w = node.dataset.when;
    node.hidden = (w === "partner" && role !== "partner") || (w === "helpline" && role === "partner") || (w === "new" && editing);
  }
  form.elements.username.disabled = editing;
}

function editPerson(p) {
  const form = $("#person-form");
  clearErrors(form);
  form.elements.id.value = p.id;
  form.elements.username.value = p.username;
  form.elements.display_name.value = p.display_name;
  form.elements.role.value = p.role;
  if (p.organisation_id) form.elements.organisation_id.value = p.organisation_id;
  form.elements.dial_address.value = p.dial_address || "";
  $("#person-form-title").textContent = `Change ${p.display_name}`;
  $("#person-save").textContent = "Save changes";
  $("#person-cancel").hidden = false;
  personFormMode();
  form.elements.display_name.focus();
}

function resetPersonForm() {
  const form = $("#person-form");
  form.reset();
  form.elements.id.value = "";
  clearErrors(form);
  $("#person-form-title").textContent = "Add a person";
  $("#person-save").textContent = "Add person";
  $("#person-cancel").hidden = true;
  personFormMode();
}

async function savePerson(v) {
  const partner = v.role === "partner";
  if (v.id) {
    const id = Number(v.id);
    // One request, so a refused field leaves nothing half-changed.
    await api("PATCH", `/api/admin/users/${id}`, {
      role: v.role, display_name: v.display_name || undefined,
      organisation_id: partner ? numberOrNull(v.organisation_id) : null,
      dial_address: partner ? undefined : orNull(v.dial_address),
    });
    say(`Saved the changes to ${v.display_name || "this person"}.`);
  } else {
    const added = await api("POST", "/api/admin/users", {
      username: v.username, display_name: orNull(v.display_name), role: v.role,
      password: orNull(v.password), organisation_id: partner ? numberOrNull(v.organisation_id) : null,
      dial_address: partner ? null : orNull(v.dial_address),
    });
    say(added.password ? `Added ${added.username}. Their password, shown once:` : `Added ${added.username}.`, { once: added.password || undefined });
  }
  resetPersonForm();
  await loadPeople();
}

async function resetPassword(p) {
  await act(async () => {
    const done = await api("POST", `/api/admin/users/${p.id}/password`, {});
    say(`New password for ${p.username} (${plural(done.sessions_ended, "session")} signed out), shown once:`, { once: done.password });
  });
}

async function setActive(p, active) {
  await act(async () => {
    await api("POST", `/api/admin/users/${p.id}/${active ? "reactivate" : "deactivate"}`);
    say(active ? `${p.username} can sign in again.` : `${p.username} is deactivated and signed out everywhere.`);
    await loadPeople();
  });
}

// ---- API keys ---------------------------------------------------------------------------------
async function loadKeys() {
  const keys = await api("GET", "/api/admin/api-keys");
  $("#keys tbody").replaceChildren(...(keys.length ? keys.map((k) => el("tr", { "data-key": k.prefix },
    el("td", {}, el("strong", { text: k.name }), el("br"), el("small", { class: "muted", text: `olk_${k.prefix}_…` })),
    el("td", { text: orgName(k.organisation_id) }),
    el("td", { text: when(k.created_at) }),
    el("td", { text: k.last_used_at ? when(k.last_used_at) : "Never" }),
    el("td", {}, el("span", { class: `badge ${k.revoked_at ? "warn" : "ok"}`, text: k.revoked_at ? `Revoked ${when(k.revoked_at)}` : "Live" })),
    el("td", {}, k.revoked_at ? "" : el("button", { type: "button", class: "danger", text: "Revoke", "aria-label": `Revoke the key ${k.name}`,
      onclick: () => act(async () => { await api("DELETE", `/api/admin/api-keys/${k.id}`); say(`Revoked ${k.name}.`); await loadKeys(); }) }))))
    : [el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No API keys yet." }))]));
}

async function createKey(v) {
  const issued = await api("POST", `/api/admin/organisations/${Number(v.organisation_id)}/api-keys`, { name: v.name || "partner system" });
  say(`API key for ${orgName(issued.organisation_id)}, shown once: store it now.`, { once: issued.key });
  $("#key-form").elements.name.value = "";
  await loadKeys();
}

// ---- webhooks ---------------------------------------------------------------------------------
const STATUS_WORD = { pending: "Sending", delivered: "Delivered", dead: "Dead", unconfigured: "No webhook" };

async function loadDeliveries() {
  const id = Number($("#hook-org").value);
  if (!id) return;
  const org = state.organisations.find((o) => o.id === id);
  $("#hook-form").elements.url.value = (org && org.webhook_url) || "";
  const rows = await api("GET", `/api/admin/organisations/${id}/deliveries`);
  $("#deliveries tbody").replaceChildren(...(rows.length ? rows.map((d) => el("tr", { "data-delivery": d.id },
    el("td", { text: d.id }),
    el("td", { text: d.event + (d.ticket_id ? ` · ticket ${d.ticket_id}` : "") }),
    el("td", { text: when(d.created_at) }),
    el("td", {}, el("span", { class: `badge ${d.status === "delivered" ? "ok" : d.status === "dead" ? "danger" : "warn"}`, text: d.status === "pending" && d.last_error ? "Retrying" : STATUS_WORD[d.status] || d.status }),
      d.last_error ? el("small", { class: "muted", text: ` ${d.last_error}` }) : ""),
    el("td", { text: d.attempts }),
    el("td", {}, d.status === "dead" ? el("button", { type: "button", text: "Retry", "aria-label": `Retry delivery ${d.id}`,
      onclick: () => act(async () => { await api("POST", `/api/admin/deliveries/${d.id}/retry`); say(`Delivery ${d.id} sent again.`); await loadDeliveries(); }) }) : "")))
    : [el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No deliveries yet." }))]));
}

async function saveWebhook(v) {
  const id = Number(v.organisation_id);
  const done = await api("PUT", `/api/admin/organisations/${id}/webhook`, { url: orNull(v.url) });
  await loadOrganisations();
  if (done.secret) say(`Webhook saved for ${orgName(id)}. The new signing secret, shown once:`, { once: done.secret });
  else say(`Pushes to ${orgName(id)} are off.`);
  await loadDeliveries();
}

async function testWebhook() {
  await act(async () => {
    const sent = await api("POST", `/api/admin/organisations/${Number($("#hook-org").value)}/webhook/test`);
    await loadDeliveries();
    const row = (await api("GET", `/api/admin/organisations/${sent.organisation_id}/deliveries`)).find((d) => d.id === sent.id);
    say(row && row.status === "delivered" ? `Test delivery ${sent.id} was delivered.` : `Test delivery ${sent.id}: ${STATUS_WORD[row ? row.status : "pending"]}${row && row.last_error ? ` (${row.last_error})` : ""}.`);
  });
}

// ---- directory --------------------------------------------------------------------------------
function checks(box, name, items) {
  box.replaceChildren(...items.map((i) => el("label", {}, el("input", { type: "checkbox", name, value: i.slug }), ` ${i.label || i.name}`)));
}

const WAITS = { "under-a-week": "under a week", "1-4-weeks": "1–4 weeks", "over-4-weeks": "longer than 4 weeks" };
const capacityText = (s) => [s.spaces == null ? null : `${s.spaces} places now`, s.capacity == null ? null : `max ${s.capacity}`,
  s.waiting_list ? `wait ${WAITS[s.waiting_list]}` : null].filter(Boolean).join(" · ") || "–";

async function loadServices() {
  state.services = await api("GET", "/api/directory/services");
  $("#services tbody").replaceChildren(...state.services.map((s) => el("tr", { "data-service": s.slug },
    el("td", {}, el("strong", { text: s.name }), el("br"), el("small", { class: "muted", text: s.organisation })),
    el("td", { text: s.needs.join(", ") || "–" }),
    el("td", { text: s.status }),
    el("td", { text: capacityText(s) }),
    el("td", {}, el("div", { class: "actions" },
      el("button", { type: "button", text: "Change", "aria-label": `Change ${s.name}`, onclick: () => editService(s) }),
      s.status === "defunct" ? "" : el("button", { type: "button", class: "danger", text: "Retire", "aria-label": `Retire ${s.name}`,
        onclick: () => act(async () => { await api("DELETE", `/api/directory/services/${s.id}`); say(`${s.name} is retired.`); await loadServices(); }) }))))));
}

function parseHours(text) {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
    const [days, opens, closes] = l.split(/\s+/);
    return { days: days || "", opens: opens || "", closes: closes || "" };
  });
}

function editService(s) {
  const form = $("#service-form");
  resetServiceForm();
  const f = form.elements;
  f.id.value = s.id; f.organisation_id.value = s.organisation_id; f.slug.value = s.slug; f.name.value = s.name;
  f.status.value = s.status; f.min_age.value = s.min_age ?? ""; f.max_age.value = s.max_age ?? "";
  f.capacity.value = s.capacity ?? ""; f.spaces.value = s.spaces ?? ""; f.waiting_list.value = s.waiting_list || "";
  f.live_phone.value = s.live_phone || "";
  for (const name of TARGETS) f[name].value = s.targets[name];
  f.locality_team_for.value = s.locality_team_for || "";
  f.hours.value = s.hours.map((h) => `${h.days} ${h.opens} ${h.closes}`).join("\n");
  for (const box of form.querySelectorAll('input[type="checkbox"]')) box.checked = (box.name === "needs" ? s.needs : s.areas).includes(box.value);
  f.slug.disabled = true; f.organisation_id.disabled = true;
  state.editing = s;
  $("#service-form-title").textContent = `Change ${s.name}`;
  $("#service-save").textContent = "Save changes";
  $("#service-cancel").hidden = false;
  f.name.focus();
}

function resetServiceForm() {
  const form = $("#service-form");
  form.reset();
  form.elements.id.value = "";
  state.editing = null;
  form.elements.slug.disabled = false; form.elements.organisation_id.disabled = false;
  clearErrors(form);
  $("#service-form-title").textContent = "Add a service";
  $("#service-save").textContent = "Add service";
  $("#service-cancel").hidden = true;
}

async function saveService() {
  const form = $("#service-form");
  const f = form.elements;
  const picked = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((b) => b.value);
  const body = {
    name: f.name.value.trim(), status: f.status.value, needs: picked("needs"), areas: picked("areas"),
    min_age: numberOrNull(f.min_age.value), max_age: numberOrNull(f.max_age.value), capacity: numberOrNull(f.capacity.value),
    spaces: numberOrNull(f.spaces.value), waiting_list: orNull(f.waiting_list.value),
    live_phone: orNull(f.live_phone.value.trim()), hours: parseHours(f.hours.value),
    // Empty: the directory's default for that target (as in the YAML import).
    targets: Object.fromEntries(TARGETS.filter((n) => f[n].value !== "").map((n) => [n, Number(f[n].value)])),
    locality_team_for: orNull(f.locality_team_for.value),
  };
  if (f.id.value) {
    await api("PATCH", `/api/directory/services/${Number(f.id.value)}`, body);
    say(`Saved the changes to ${body.name}.`);
  } else {
    const made = await api("POST", "/api/directory/services", { ...body, slug: f.slug.value.trim(), organisation_id: Number(f.organisation_id.value) });
    say(`Added ${made.name}: listeners can now choose it for a warm transfer.`);
  }
  resetServiceForm();
  await loadServices();
}

function editOrganisation(o) {
  const form = $("#org-form");
  resetOrganisationForm();
  const f = form.elements;
  f.id.value = o.id; f.slug.value = o.slug; f.slug.disabled = true;
  f.name.value = o.name; f.email.value = o.email || ""; f.website.value = o.website || "";
  $("#org-form-title").textContent = `Change ${o.name}`;
  $("#org-save").textContent = "Save changes";
  $("#org-cancel").hidden = false;
  f.name.focus();
}

function resetOrganisationForm() {
  const form = $("#org-form");
  form.reset();
  form.elements.id.value = "";
  form.elements.slug.disabled = false;
  clearErrors(form);
  $("#org-form-title").textContent = "Add an organisation";
  $("#org-save").textContent = "Add organisation";
  $("#org-cancel").hidden = true;
}

async function saveOrganisation(v) {
  const body = { name: v.name, email: orNull(v.email), website: orNull(v.website) };
  if (v.id) {
    const changed = await api("PATCH", `/api/directory/organisations/${Number(v.id)}`, body);
    say(`Saved the changes to ${changed.name}.`);
  } else {
    const made = await api("POST", "/api/directory/organisations", { slug: v.slug, ...body });
    say(`Added ${made.name}.`);
  }
  resetOrganisationForm();
  await loadOrganisations();
}

// ---- needs ------------------------------------------------------------------------------------
async function loadNeeds() {
  state.needs = await api("GET", "/api/admin/needs");
  checks($("#service-needs"), "needs", state.needs.filter((n) => !n.retired_at));
  $("#needs tbody").replaceChildren(...state.needs.map((n) => {
    const input = el("input", { value: n.label, maxlength: 80, "aria-label": `Label for ${n.slug}` });
    return el("tr", { "data-need": n.slug },
      el("td", {}, input),
      el("td", {}, n.slug, n.retired_at ? el("span", { class: "badge warn", text: ` retired ${when(n.retired_at)}` }) : ""),
      el("td", {}, el("div", { class: "actions" },
        el("button", { type: "button", text: "Rename", "aria-label": `Rename ${n.slug}`,
          onclick: () => act(async () => { await api("PATCH", `/api/admin/needs/${n.slug}`, { label: input.value.trim() }); say(`Renamed ${n.slug}.`); await loadNeeds(); }) }),
        n.retired_at ? "" : el("button", { type: "button", class: "danger", text: "Retire", "aria-label": `Retire ${n.slug}`,
          onclick: () => act(async () => { await api("POST", `/api/admin/needs/${n.slug}/retire`); say(`${n.label} is no longer offered.`); await loadNeeds(); }) }))));
  }));
}

async function addNeed(v) {
  const made = await api("POST", "/api/admin/needs", { slug: v.slug, label: v.label });
  $("#need-form").reset();
  say(`Added the need ${made.label}.`);
  await loadNeeds();
}

// ---- audit ------------------------------------------------------------------------------------
async function loadAudit() {
  const v = values($("#audit-form"));
  const query = new URLSearchParams({ page: state.auditPage });
  for (const k of ["actor", "action"]) if (v[k]) query.set(k, v[k]);
  for (const k of ["since", "until"]) if (v[k]) query.set(k, new Date(v[k]).toISOString());
  const found = await api("GET", `/api/admin/audit?${query}`);
  $("#audit tbody").replaceChildren(...(found.events.length ? found.events.map((e) => el("tr", {},
    el("td", { text: when(e.at) }), el("td", { text: e.actor }), el("td", { text: e.action.replace(/_/g, " ") }),
    el("td", { text: `${e.subject_type.replace(/_/g, " ")} ${e.subject_id}` })))
    : [el("tr", {}, el("td", { colspan: 4, class: "muted", text: "Nothing matches." }))]));
  $("#audit-older").disabled = !found.has_more;
  $("#audit-newer").disabled = found.page <= 1;
}

// ---- start ------------------------------------------------------------------------------------
async function start() {
  for (const b of document.querySelectorAll("[data-tab]")) b.addEventListener("click", () => openTab(b.dataset.tab));
  $("#person-form").elements.role.addEventListener("change", personFormMode);
  $("#person-cancel").addEventListener("click", resetPersonForm);
  $("#service-cancel").addEventListener("click", resetServiceForm);
  $("#hook-org").addEventListener("change", () => act(loadDeliveries));
  $("#hook-test").addEventListener("click", testWebhook);
  $("#audit-older").addEventListener("click", () => { state.auditPage += 1; act(loadAudit); });
  $("#audit-newer").addEventListener("click", () => { state.auditPage = Math.max(1, state.auditPage - 1); act(loadAudit); });
  wire($("#person-form"), savePerson);
  wire($("#key-form"), createKey);
  wire($("#hook-form"), saveWebhook);
  wire($("#service-form"), saveService);
  wire($("#org-form"), saveOrganisation);
  $("#org-cancel").addEventListener("click", resetOrganisationForm);
  wire($("#need-form"), addNeed);
  wire($("#audit-form"), async () => { state.auditPage = 1; await loadAudit(); });
  for (const input of $("#audit-form").querySelectorAll('input[type="datetime-local"]')) dateInWords(input);
  initLine({ say, showErrors, clearErrors });
  personFormMode();
  await act(async () => {
    state.me = await api("GET", "/api/me");
    await loadOrganisations();
    state.localities = await api("GET", "/api/directory/localities");
    checks($("#service-areas"), "areas", state.localities);
    $("#service-form").elements.locality_team_for.append(...state.localities.map((l) => el("option", { value: l.slug, text: l.name })));
    await loadNeeds();
    await loadPeople();
  });
  const wanted = location.hash.slice(1);
  if (wanted && document.getElementById(`tab-${wanted}`)) openTab(wanted);
}

start();
