// The campaign editor: the fields, the audience (everyone, a segment or a rule; a frequency
// cap), the follow-ups and the schedule, save as draft, and the gateway's own preview of
// any step for a chosen prospect or stepping through the audience, with who would read a
// placeholder empty.
import { api, query } from "./api.js";
import { alertBox, announce, debounce, field, h, mount, showErrors } from "./dom.js";
import { liveCount, ruleBuilder } from "./segments.js";
import { schedulePicker, sequenceEditor } from "./sequence.js";

const FIELDS = [
  ["name", "Campaign name", "input", "Only you see this."],
  ["from_name", "From name", "input", "Shown as the sender, e.g. Dana at Example."],
  ["from_email", "From address", "input", "Must be on the verified sending domain."],
  ["reply_to", "Reply-to address", "input", "Optional."],
  ["subject", "Subject", "input", "Placeholders: {{ first_name }}, {{ last_name }}, {{ email }}, {{ unsubscribe_url }}."],
  ["body_html", "HTML body", "textarea", "Personal fields are HTML-escaped when rendered."],
  ["body_text", "Plain-text body", "textarea", "Optional: made from the HTML when left empty."],
];

function payload(controls, creating, ...parts) {
  const data = Object.assign({}, ...parts.map((part) => part.value()));
  for (const [name] of FIELDS) {
    const value = controls[name].value;
    if (value.trim() !== "") data[name] = value;
    else if (!creating && ["from_name", "reply_to", "body_text"].includes(name)) data[name] = null;
  }
  return data;
}

// Whom the campaign reaches: every active prospect, a saved segment, or a rule of its own;
// and the frequency cap. value() is the part of the campaign's payload it owns.
function audiencePicker(segments, attributeKeys, campaigns) {
  const choice = (value, label) => {
    const input = h("input", { type: "radio", name: "audience-kind", id: `audience-kind-${value}`, value });
    return [input, h("div", { className: "choice" }, input, h("label", { for: input.id }, label))];
  };
  const [allRadio, allChoice] = choice("all", "Every active prospect");
  const [segmentRadio, segmentChoice] = choice("segment", "A saved segment");
  const [ruleRadio, ruleChoice] = choice("rule", "Its own rule");
  allRadio.checked = true;
  const segmentSelect = h("select", { id: "audience-segment" },
    segments.length ? segments.map((s) => h("option", { value: s.id }, s.name)) : h("option", { value: "" }, "No segments yet"));
  const segmentField = field("Segment", segmentSelect, "Its rule as it is when each batch is sent.");
  const counter = liveCount("The newest prospects the rule matches");
  const builder = ruleBuilder({ id: "audience-rule", attributeKeys, campaigns, onChange: counter.update });
  const ruleBox = h("div", {}, builder.element, counter.element);
  const cap = h("input", { id: "campaign-frequency_cap_days", type: "number", min: 1, max: 365, inputmode: "numeric" });
  const capField = field("Frequency cap (days)", cap,
    "Optional: leave out whoever another campaign emailed in this many days.");
  const flagged = h("input", { type: "checkbox", id: "campaign-include_flagged" });
  const flaggedChoice = h("div", { className: "choice" }, flagged, h("label", { for: flagged.id },
    "Also role addresses (info@, sales@…), disposable ones and domains that take no mail"));
  const error = h("p", { className: "field-error", hidden: true });
  const element = h("fieldset", { id: "campaign-audience" }, h("legend", {}, "Audience"),
    allChoice, segmentChoice, segmentField, ruleChoice, ruleBox, capField, flaggedChoice, error);

  function kind() { return [allRadio, segmentRadio, ruleRadio].find((r) => r.checked).value; }
  function show() {
    segmentField.hidden = kind() !== "segment";
    ruleBox.hidden = kind() !== "rule";
    if (kind() === "rule") counter.update(builder.rule());
  }
  for (const radio of [allRadio, segmentRadio, ruleRadio]) radio.addEventListener("change", show);
  show();
  element.showError = (message) => { error.textContent = message || ""; error.hidden = !message; };
  return {
    element, capField,
    value() {
      const audience = kind() === "all" ? null
        : kind() === "segment" ? { segment_id: segmentSelect.value || null } : { rule: builder.rule() };
      return { audience, frequency_cap_days: cap.value.trim() === "" ? null : Number(cap.value),
               include_flagged: flagged.checked };
    },
    set(audience, capDays, includeFlagged) {
      flagged.checked = Boolean(includeFlagged);
      if (audience?.segment_id) { segmentRadio.checked = true; segmentSelect.value = audience.segment_id; }
      else if (audience?.rule) { ruleRadio.checked = true; builder.set(audience.rule); }
      else allRadio.checked = true;
      cap.value = capDays ?? "";
      show();
    },
  };
}

export async function campaignEditor({ id }) {
  const creating = !id;
  const alert = alertBox();
  const controls = {};
  const fields = {};
  for (const [name, label, kind, hint] of FIELDS) {
    controls[name] = kind === "textarea"
      ? h("textarea", { id: `campaign-${name}`, name, spellcheck: "true" })
      : h("input", { id: `campaign-${name}`, name, type: name.includes("email") || name === "reply_to" ? "email" : "text",
                     autocomplete: "off" });
    fields[name] = field(label, controls[name], hint);
  }
  const [segments, fieldNames, campaigns] = await Promise.all([
    api("GET", "/api/segments").catch(() => ({ items: [] })),
    api("GET", "/api/fields").catch(() => ({ custom: [] })),
    api("GET", "/api/campaigns?limit=200").catch(() => ({ items: [] }))]);
  const audience = audiencePicker(segments.items, fieldNames.custom, campaigns.items.filter((c) => c.id !== id));
  fields.audience = audience.element;
  fields.frequency_cap_days = audience.capField;
  const stepPicker = h("select", { id: "preview-step" });
  const sequence = sequenceEditor(() => labelSteps());
  const schedule = schedulePicker(() => {});
  fields.steps = sequence.element;
  fields.schedule = schedule.element;
  function labelSteps() {
    const chosen = stepPicker.value;
    stepPicker.replaceChildren(h("option", { value: "1" }, "Step 1: the campaign's message"),
      ...sequence.steps.map((_, i) => h("option", { value: String(i + 2) }, `Step ${i + 2}: follow-up ${i + 1}`)));
    stepPicker.value = [...stepPicker.options].some((o) => o.value === chosen) ? chosen : "1";
  }
  labelSteps();
  const saved = h("p", { className: "hint", "aria-live": "polite" });
  const back = h("a", { className: "button quiet", href: id ? `#/campaigns/${id}` : "#/campaigns" }, "Back");
  const form = h("form", { novalidate: true }, Object.values(fields).filter((f) => f !== audience.capField),
    h("div", { className: "actions" }, h("button", { type: "submit" }, "Save draft"), back), saved);

  const prospectPicker = h("select", { id: "preview-prospect" }, h("option", { value: "" }, "A sample prospect"));
  const eligible = h("p", { className: "count", id: "preview-audience", "aria-live": "polite" });
  const warnings = h("ul", { className: "warnings", id: "preview-missing", hidden: true });
  const footerNote = h("p", { className: "note", id: "preview-footer", hidden: true },
    "A footer with your postal address and an unsubscribe link is added to each body that lacks either " +
    "(the law and the large mailbox providers require both): the preview shows it.");
  const stepLabel = h("span", { id: "preview-member" });
  const previous = h("button", { type: "button", className: "quiet", onclick: () => step(-1) }, "Previous member");
  const next = h("button", { type: "button", className: "quiet", onclick: () => step(1) }, "Next member");
  const previewSubject = h("p", { id: "preview-subject" });
  const previewFrame = h("iframe", { className: "preview-frame", title: "Preview of the HTML message",
                                     sandbox: "", referrerpolicy: "no-referrer" });
  const previewText = h("pre", { className: "headers", "aria-label": "Plain-text part" });
  const previewHeaders = h("pre", { className: "headers", "aria-label": "Message headers" });
  const previewBox = h("section", { "aria-labelledby": "preview-heading" },
    h("h2", { id: "preview-heading" }, "Preview"), eligible, warnings, footerNote,
    field("Preview for", prospectPicker, "The message exactly as this prospect would get it."),
    field("Step", stepPicker, "A follow-up shows its thread headers (In-Reply-To, References)."),
    h("div", { className: "pager", role: "group", "aria-label": "Step through the audience" }, previous, stepLabel, next),
    previewSubject, previewFrame, h("h3", {}, "Plain text"), previewText, h("h3", {}, "Headers"), previewHeaders);
  let member = null;  // a position in the audience, when stepping through it
  let audienceSize = 0;

  mount(h("h1", {}, creating ? "New campaign" : "Edit campaign"), alert,
    h("div", { className: "two" }, form, previewBox));

  let campaignId = id;
  let sequenceOnly = false;  // sending or completed: only the follow-ups and the schedule change
  if (campaignId) {
    const { campaign } = await api("GET", `/api/campaigns/${campaignId}`);
    sequenceOnly = ["sending", "completed"].includes(campaign.status);
    if (sequenceOnly) {
      for (const [name] of FIELDS) controls[name].disabled = true;
      alert.show(`This campaign is ${campaign.status}: its follow-ups, stop rules and schedule can change ` +
        "(a step already sent to someone is never sent to them again); pause it to edit the rest.");
    }
    for (const [name] of FIELDS) controls[name].value = campaign[name] ?? "";
    footerNote.hidden = !campaign.footer_appended;
    audience.set(campaign.audience, campaign.frequency_cap_days, campaign.include_flagged);
    sequence.set(campaign);
    schedule.set(campaign.schedule);
    labelSteps();
  } else {
    previewSubject.textContent = "Save the draft to see its preview.";
  }
  try {
    const prospects = await api("GET", `/api/prospects${query({ status: "active", limit: 50 })}`);
    prospectPicker.append(...prospects.items.map((p) => h("option", { value: p.id }, p.email)));
  } catch (error) { alert.show(error.message); }

  async function preview() {
    if (!campaignId) return;
    try {
      const result = await api("GET", `/api/campaigns/${campaignId}/preview${query(
        { ...(member === null ? { prospect_id: prospectPicker.value } : { member }), step: stepPicker.value })}`);
      audienceSize = result.audience;
      eligible.textContent = `${result.audience} prospect${result.audience === 1 ? "" : "s"} eligible now: ` +
        "the campaign reaches them if sent at this moment.";
      warnings.replaceChildren(...result.missing.map((m) => h("li", {}, m.message)));
      warnings.hidden = result.missing.length === 0;
      stepLabel.textContent = member === null ? `${result.audience} in the audience`
        : `Member ${member + 1} of ${result.audience}`;
      previous.disabled = member === null || member === 0;
      next.disabled = result.audience === 0 || (member !== null && member + 1 >= result.audience);
      previewSubject.replaceChildren(h("strong", {}, "Subject: "), result.subject);
      previewFrame.srcdoc = result.html;
      previewText.textContent = result.text;
      previewHeaders.textContent = result.headers.map(([name, value]) => `${name}: ${value}`).join("\n");
    } catch (error) { alert.show(error.message); }
  }

  function step(by) {
    member = member === null ? 0 : Math.min(Math.max(member + by, 0), Math.max(audienceSize - 1, 0));
    prospectPicker.value = "";
    preview();
  }

  async function save({ quiet = false } = {}) {
    try {
      const data = sequenceOnly ? { ...sequence.value(), ...schedule.value() }
        : payload(controls, !campaignId, audience, sequence, schedule);
      const result = campaignId
        ? await api("PATCH", `/api/campaigns/${campaignId}`, data)
        : await api("POST", "/api/campaigns", data);
      for (const wrapper of Object.values(fields)) wrapper.showError("");
      for (const step of sequence.steps) for (const wrapper of Object.values(step.fields)) wrapper.showError("");
      if (!sequenceOnly) alert.show("");
      saved.textContent = `Draft saved at ${new Date().toLocaleTimeString()}.`;
      footerNote.hidden = !result.footer_appended;
      if (!campaignId) {
        campaignId = result.id;
        back.setAttribute("href", `#/campaigns/${campaignId}`);
        history.replaceState(null, "", `#/campaigns/${campaignId}/edit`);
      }
      if (!quiet) announce("Draft saved.");
      await preview();
      return true;
    } catch (error) {
      // A follow-up's field ("steps.0.wait") is shown on that step's card.
      for (const step of sequence.steps) for (const wrapper of Object.values(step.fields)) wrapper.showError("");
      const own = (error.details || []).filter((d) => {
        const match = /^steps\.(\d+)\.(\w+)/.exec(d.field || "");
        const wrapper = match && sequence.steps[Number(match[1])]?.fields[match[2]];
        if (wrapper) wrapper.showError(d.message);
        return !wrapper;
      });
      showErrors({ ...error, details: own }, fields, alert);
      return false;
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); save(); });
  // A live preview: an existing draft is saved as it is edited, then shown again.
  const autosave = debounce(() => { if (campaignId) save({ quiet: true }); }, 800);
  form.addEventListener("input", autosave);
  prospectPicker.addEventListener("change", () => { member = null; preview(); });
  stepPicker.addEventListener("change", () => preview());
  await preview();
}
