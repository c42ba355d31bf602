// The campaign editor: the fields, save as draft, and the gateway's own preview for a chosen prospect.
import { api, query } from "./api.js";
import { alertBox, announce, debounce, field, h, mount, showErrors } from "./dom.js";

const FIELDS = [
  ["name", "Campaign name", "input", "Only you see this."],
  ["from_name", "From name", "input", "Shown as the sender, e.g. Dana at Example."],
  ["from_email", "From address", "input", "Must be on the verified sending domain."],
  ["reply_to", "Reply-to address", "input", "Optional."],
  ["subject", "Subject", "input", "Placeholders: {{ first_name }}, {{ last_name }}, {{ email }}, {{ unsubscribe_url }}."],
  ["body_html", "HTML body", "textarea", "Personal fields are HTML-escaped when rendered."],
  ["body_text", "Plain-text body", "textarea", "Optional: made from the HTML when left empty."],
];

function payload(controls, creating) {
  const data = {};
  for (const [name] of FIELDS) {
    const value = controls[name].value;
    if (value.trim() !== "") data[name] = value;
    else if (!creating && ["from_name", "reply_to", "body_text"].includes(name)) data[name] = null;
  }
  return data;
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
  const saved = h("p", { className: "hint", "aria-live": "polite" });
  const back = h("a", { className: "button quiet", href: id ? `#/campaigns/${id}` : "#/campaigns" }, "Back");
  const form = h("form", { novalidate: true }, Object.values(fields),
    h("div", { className: "actions" }, h("button", { type: "submit" }, "Save draft"), back), saved);

  const prospectPicker = h("select", { id: "preview-prospect" }, h("option", { value: "" }, "A sample prospect"));
  const previewSubject = h("p", { id: "preview-subject" });
  const previewFrame = h("iframe", { className: "preview-frame", title: "Preview of the HTML message",
                                     sandbox: "", referrerpolicy: "no-referrer" });
  const previewText = h("pre", { className: "headers", "aria-label": "Plain-text part" });
  const previewHeaders = h("pre", { className: "headers", "aria-label": "Message headers" });
  const previewBox = h("section", { "aria-labelledby": "preview-heading" },
    h("h2", { id: "preview-heading" }, "Preview"),
    field("Preview for", prospectPicker, "The message exactly as this prospect would get it."),
    previewSubject, previewFrame, h("h3", {}, "Plain text"), previewText, h("h3", {}, "Headers"), previewHeaders);

  mount(h("h1", {}, creating ? "New campaign" : "Edit campaign"), alert,
    h("div", { className: "two" }, form, previewBox));

  let campaignId = id;
  if (campaignId) {
    const { campaign } = await api("GET", `/api/campaigns/${campaignId}`);
    for (const [name] of FIELDS) controls[name].value = campaign[name] ?? "";
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
      const result = await api("GET", `/api/campaigns/${campaignId}/preview${query({ prospect_id: prospectPicker.value })}`);
      previewSubject.replaceChildren(h("strong", {}, "Subject: "), result.subject);
      previewFrame.srcdoc = result.html;
      previewText.textContent = result.text;
      previewHeaders.textContent = result.headers.map(([name, value]) => `${name}: ${value}`).join("\n");
    } catch (error) { alert.show(error.message); }
  }

  async function save({ quiet = false } = {}) {
    try {
      const data = payload(controls, !campaignId);
      const result = campaignId
        ? await api("PATCH", `/api/campaigns/${campaignId}`, data)
        : await api("POST", "/api/campaigns", data);
      for (const wrapper of Object.values(fields)) wrapper.showError("");
      alert.show("");
      saved.textContent = `Draft saved at ${new Date().toLocaleTimeString()}.`;
      if (!campaignId) {
        campaignId = result.id;
        back.setAttribute("href", `#/campaigns/${campaignId}`);
        history.replaceState(null, "", `#/campaigns/${campaignId}/edit`);
      }
      if (!quiet) announce("Draft saved.");
      await preview();
      return true;
    } catch (error) {
      showErrors(error, fields, alert);
      return false;
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); save(); });
  // A live preview: an existing draft is saved as it is edited, then shown again.
  const autosave = debounce(() => { if (campaignId) save({ quiet: true }); }, 800);
  form.addEventListener("input", autosave);
  prospectPicker.addEventListener("change", preview);
  await preview();
}
