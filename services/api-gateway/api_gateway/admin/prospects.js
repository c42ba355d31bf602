// Prospects: search, filter (status, tag), page, edit, delete, tag in bulk; CSV import with
// upload progress, tags for every row, and its report.
import { api, query, uploadCsv } from "./api.js";
import { alertBox, announce, badge, confirmDialog, debounce, field, h, mount, pager, showErrors, table } from "./dom.js";

const STATUSES = ["active", "unsubscribed", "bounced", "complained"];
// GDPR Article 6(1), as the API names them.
export const LAWFUL_BASES = [["", "Not recorded"], ["consent", "Consent"], ["contract", "Contract"],
  ["legal_obligation", "Legal obligation"], ["vital_interests", "Vital interests"], ["public_task", "Public task"],
  ["legitimate_interests", "Legitimate interests"]];

function basisPicker(id, chosen, emptyLabel) {
  return h("select", { id }, LAWFUL_BASES.map(([value, label]) =>
    h("option", { value, selected: value === (chosen ?? "") }, value ? label : emptyLabel)));
}

const FLAG_TEXT = { role: "a role address", disposable: "a disposable address", no_mx: "its domain takes no mail" };

// Where a prospect came from, in one line.
function sourceText(source) {
  if (!source) return "Not recorded (added before sources were kept).";
  const how = source.via === "import" ? `Imported${source.file ? ` from ${source.file}` : ""}` : "Added through the API";
  return [how, source.by ? `by ${source.by}` : null, source.note ? `— ${source.note}` : null].filter(Boolean).join(" ");
}

// "a, b; c" -> ["a", "b", "c"] (the server normalises case and spacing).
function splitTags(text) {
  return text.split(/[;,]/).map((t) => t.trim()).filter(Boolean);
}

// Tags as a list of chips; with onRemove, each has a button that removes it.
export function chips(tags, label, onRemove) {
  return h("ul", { className: "chips", "aria-label": label }, tags.map((tag) => h("li", { className: "chip" }, tag,
    onRemove ? h("button", { type: "button", className: "quiet", "aria-label": `Remove tag ${tag}`,
                             onclick: () => onRemove(tag) }, "×") : null)));
}

function importPanel(onDone) {
  const alert = alertBox();
  const input = h("input", { type: "file", id: "csv-file", accept: ".csv,text/csv" });
  const importTags = h("input", { type: "text", id: "import-tags", autocomplete: "off" });
  const progress = h("progress", { max: 100, value: 0, hidden: true, "aria-label": "Upload progress" });
  const report = h("div", { "aria-live": "polite" });
  const drop = h("div", { className: "drop" },
    h("p", {}, "Drop a CSV file here, or choose one."),
    field("CSV file", input, "Columns: email (required), first_name, last_name, company, title, tags; others become custom fields."),
    progress);
  const tagsField = field("Tags for every row", importTags, "Optional, separated by commas; added to each imported prospect's own.");
  const importNote = h("input", { type: "text", id: "import-note", autocomplete: "off", maxLength: 500 });
  const noteField = field("Where the list came from", importNote, "Optional; kept with the file's name on each new prospect.");
  const importBasis = basisPicker("import-basis", "", "Leave each prospect's as it is");
  const basisField = field("Lawful basis", importBasis, "Optional; set on every prospect of the file.");

  async function upload(file) {
    if (!file) return;
    alert.show("");
    report.replaceChildren(h("p", {}, `Uploading ${file.name}…`));
    progress.hidden = false;
    progress.value = 0;
    try {
      const result = await uploadCsv(file, (loaded, total) => { progress.value = Math.round((loaded / total) * 100); },
        splitTags(importTags.value), { note: importNote.value.trim(), lawful_basis: importBasis.value });
      progress.value = 100;
      report.replaceChildren(
        h("p", { className: "note" }, `Imported ${file.name}: ${result.inserted} new, ${result.updated} updated, ` +
          `${result.unchanged} unchanged, ${result.duplicates} duplicate rows, ${result.invalid} invalid` +
          (result.suppressed ? `; ${result.suppressed} of the new were suppressed before and will not be mailed.` : ".")),
        ...(result.errors.length ? [table("Rows not imported", ["Line", "Reason"],
          result.errors.map((e) => [e.line, e.reason]), { numeric: [0] })] : []));
      announce("Import finished.");
      onDone();
    } catch (error) {
      report.replaceChildren();
      alert.show(error.message);
    } finally {
      input.value = "";
    }
  }

  input.addEventListener("change", () => upload(input.files[0]));
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    upload(event.dataTransfer.files[0]);
  });
  return h("section", { "aria-labelledby": "import-heading" },
    h("h2", { id: "import-heading" }, "Import from CSV"), tagsField, noteField, basisField, drop, alert, report);
}

// The list's filter as an audience rule (what bulk changes act on); null when it has none.
function filterRule(status, tag) {
  const parts = [];
  if (status) parts.push({ field: "status", op: "eq", value: status });
  if (tag) parts.push({ field: "tags", op: "has", value: tag });
  if (!parts.length) return { field: "status", op: "in", value: STATUSES };  // everyone
  return parts.length === 1 ? parts[0] : { all: parts };
}

export async function prospectList(_params, life) {
  const alert = alertBox();
  const search = h("input", { type: "search", id: "prospect-search", autocomplete: "off" });
  const status = h("select", { id: "prospect-status" }, h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s }, s)));
  const tag = h("select", { id: "prospect-tag" }, h("option", { value: "" }, "Any tag"));
  const bulkTag = h("input", { type: "text", id: "bulk-tag", autocomplete: "off" });
  const bulkNote = h("p", { className: "hint", id: "bulk-note" });
  const bulkStatusSelect = h("select", { id: "bulk-status" }, STATUSES.map((s) => h("option", { value: s }, s)));
  const holder = h("div", {}, h("p", {}, "Loading prospects…"));
  let page = 1;
  let total = 0;

  async function loadTags() {
    const chosen = tag.value;
    const { items } = await api("GET", "/api/tags");
    tag.replaceChildren(h("option", { value: "" }, "Any tag"),
      ...items.map((t) => h("option", { value: t.tag, selected: t.tag === chosen }, `${t.tag} (${t.prospects})`)));
  }

  function rule() {
    return tag.value ? JSON.stringify({ field: "tags", op: "has", value: tag.value }) : "";
  }

  let asked = 0;
  async function load() {
    const mine = ++asked;
    try {
      const result = await api("GET", `/api/prospects${query({ q: search.value.trim(), status: status.value,
                                                                rule: rule(), page, limit: 25 })}`);
      if (mine !== asked) return;  // the answer to an older filter: a newer one is on its way
      total = result.total;
      bulkNote.textContent = search.value.trim()
        ? "Clear the search to change every prospect of a filter: bulk changes act on status and tag."
        : `Acts on the ${total} prospects of the current status and tag filter.`;
      holder.replaceChildren(
        table("Prospects", ["Email", "Name", "Company", "Tags", "Status", "Actions"], result.items.map((p) => [
          p.email, [p.first_name, p.last_name].filter(Boolean).join(" "), p.company ?? "",
          chips(p.tags, `Tags of ${p.email}`), badge(p.status),
          h("span", { className: "actions" },
            h("a", { className: "button quiet", href: `#/prospects/${p.id}`, "aria-label": `Edit ${p.email}` }, "Edit"),
            h("button", { type: "button", className: "danger", "aria-label": `Delete ${p.email}`,
                          onclick: () => remove(p) }, "Delete"))])),
        pager(result.page, (next) => { page = next; load(); }));
      alert.show("");
    } catch (error) { alert.show(error.message); }
  }

  async function bulkTags(change) {
    const names = splitTags(bulkTag.value);
    if (!names.length) { alert.show("Enter the tags to add or remove."); bulkTag.focus(); return; }
    if (search.value.trim()) { alert.show(bulkNote.textContent); return; }
    const verb = change === "add_tags" ? "Add" : "Remove";
    const ok = await confirmDialog({
      title: `${verb} ${names.join(", ")} ${change === "add_tags" ? "to" : "from"} ${total} prospects?`,
      body: `Every prospect of the current filter (${status.value || "any status"}, ${tag.value || "any tag"}) is changed.`,
      confirm: `${verb} tags`,
    });
    if (!ok) return;
    try {
      const result = await api("POST", "/api/prospects/bulk", { filter: filterRule(status.value, tag.value), [change]: names });
      announce(`${result.changed} of ${result.matched} prospects changed.`);
      bulkTag.value = "";
      await loadTags();
      await load();
    } catch (error) { alert.show(error.message); }
  }

  async function bulkStatus() {
    const target = bulkStatusSelect.value;
    if (search.value.trim()) { alert.show(bulkNote.textContent); return; }
    const scope = `(${status.value || "any status"}, ${tag.value || "any tag"})`;
    const ok = await confirmDialog({
      title: `Set ${total} prospects to ${target}?`,
      body: `Every prospect of the current filter ${scope} becomes ${target}. ` +
            (target === "active" ? "Their suppressions are lifted, so they can be mailed again." : ""),
      confirm: `Set ${total} to ${target}`, danger: target === "active",
    });
    if (!ok) return;
    const body = { filter: filterRule(status.value, tag.value), status: target, status_reason: "bulk change by an admin" };
    try {
      let result;
      try {
        result = await api("POST", "/api/prospects/bulk", body);
      } catch (error) {
        if (error.code !== "suppressed") throw error;
        // Some of them said no: only an explicit second yes moves them.
        const again = await confirmDialog({
          title: "Some of them opted out",
          body: `${error.message} Move them anyway? Only do this if they asked to hear from you again.`,
          confirm: "Override their opt-out", danger: true,
        });
        if (!again) return;
        result = await api("POST", "/api/prospects/bulk", { ...body, override_suppression: true });
      }
      announce(`${result.changed} of ${result.matched} prospects set to ${target}.`);
      await load();
    } catch (error) { alert.show(error.message); }
  }

  async function remove(prospect) {
    const ok = await confirmDialog({
      title: `Delete ${prospect.email}?`,
      body: "Their details are erased for good. The address stays on the suppression list, so it is never emailed again.",
      confirm: "Delete", danger: true,
    });
    if (!ok) return;
    try {
      await api("DELETE", `/api/prospects/${prospect.id}`);
      announce(`${prospect.email} deleted.`);
      await load();
    } catch (error) { alert.show(error.message); }
  }

  const refresh = async () => { page = 1; await loadTags(); await load(); };
  mount(h("h1", {}, "Prospects"), importPanel(refresh),
    h("h2", {}, "Find prospects"),
    h("div", { className: "row" },
      h("div", { className: "grow" }, h("label", { for: "prospect-search" }, "Search"), search),
      h("div", {}, h("label", { for: "prospect-status" }, "Status"), status),
      h("div", {}, h("label", { for: "prospect-tag" }, "Tag"), tag)),
    h("section", { "aria-labelledby": "bulk-heading" },
      h("h2", { id: "bulk-heading" }, "Change everyone in this filter"),
      h("div", { className: "row" },
        h("div", { className: "grow" }, h("label", { for: "bulk-tag" }, "Tags"), bulkTag),
        h("div", { className: "actions" },
          h("button", { type: "button", onclick: () => bulkTags("add_tags") }, "Add to all"),
          h("button", { type: "button", className: "quiet", onclick: () => bulkTags("remove_tags") }, "Remove from all"))),
      h("div", { className: "row" },
        h("div", {}, h("label", { for: "bulk-status" }, "New status"), bulkStatusSelect),
        h("div", { className: "actions" },
          h("button", { type: "button", className: "quiet", onclick: bulkStatus }, "Set status of all…"))),
      bulkNote),
    alert, holder);
  bulkTag.setAttribute("aria-describedby", "bulk-note");
  search.addEventListener("input", debounce(() => { page = 1; load(); }, 300));
  status.addEventListener("change", () => { page = 1; load(); });
  tag.addEventListener("change", () => { page = 1; load(); });
  await loadTags();
  await load();
  life.every(10000, load);
}

export async function prospectEditor({ id }) {
  const alert = alertBox();
  const prospect = await api("GET", `/api/prospects/${id}`);
  const names = [["first_name", "First name"], ["last_name", "Last name"], ["company", "Company"], ["title", "Title"]];
  const controls = {};
  const fields = {};
  for (const [name, label] of names) {
    controls[name] = h("input", { id: `prospect-${name}`, name, type: "text", value: prospect[name] ?? "" });
    fields[name] = field(label, controls[name]);
  }
  controls.status = h("select", { id: "prospect-status-edit" }, STATUSES.map((s) =>
    h("option", { value: s, selected: s === prospect.status }, s)));
  fields.status = field("Status", controls.status, "Setting an opted-out prospect back to active is refused while their address is suppressed.");
  controls.lawful_basis = basisPicker("prospect-lawful-basis", prospect.lawful_basis, "Not recorded");
  fields.lawful_basis = field("Lawful basis", controls.lawful_basis, "Why you may contact them (GDPR Article 6).");
  const source = h("p", { id: "prospect-source" }, h("strong", {}, "Source: "), sourceText(prospect.source));
  const flags = prospect.address_flags.length ? h("p", { id: "prospect-flags", className: "note" },
    `Flagged: ${prospect.address_flags.map((f) => FLAG_TEXT[f] || f).join(", ")}. Campaigns leave this address ` +
    "out unless they include flagged ones.") : null;
  let tags = [...prospect.tags];
  const tagList = h("div", {});
  const renderTags = () => tagList.replaceChildren(tags.length
    ? chips(tags, "Tags", (removed) => { tags = tags.filter((t) => t !== removed); renderTags(); })
    : h("p", { className: "hint" }, "No tags yet."));
  renderTags();
  controls.tags = h("input", { id: "prospect-new-tag", type: "text", autocomplete: "off" });
  const addTag = () => {
    for (const t of splitTags(controls.tags.value)) if (!tags.includes(t.toLowerCase())) tags.push(t.toLowerCase());
    controls.tags.value = "";
    renderTags();
  };
  controls.tags.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); addTag(); } });
  const addField = field("Add a tag", controls.tags, "Press Enter or Add; at most 50.");
  fields.tags = h("fieldset", {}, h("legend", {}, "Tags"), tagList, addField,
    h("button", { type: "button", className: "quiet", onclick: addTag }, "Add tag"));
  fields.tags.showError = addField.showError;  // a refused tag is said beside the input
  const form = h("form", { novalidate: true }, Object.values(fields),
    h("div", { className: "actions" }, h("button", { type: "submit" }, "Save"),
      h("a", { className: "button quiet", href: "#/prospects" }, "Back to prospects")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = {};
    for (const [name] of names) data[name] = controls[name].value.trim() || null;
    if (controls.status.value !== prospect.status) data.status = controls.status.value;
    if (controls.lawful_basis.value !== (prospect.lawful_basis ?? "")) data.lawful_basis = controls.lawful_basis.value || null;
    if (controls.tags.value.trim()) addTag();
    data.tags = tags;
    try {
      await api("PATCH", `/api/prospects/${id}`, data);
      announce("Saved.");
      location.hash = "#/prospects";
    } catch (error) { showErrors(error, fields, alert); }
  });
  mount(h("h1", {}, `Edit ${prospect.email}`), source, flags, alert, form);
}
