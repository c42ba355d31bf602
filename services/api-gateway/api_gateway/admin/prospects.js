// Prospects: search, filter, page, edit, delete; CSV import with upload progress and its report.
import { api, query, uploadCsv } from "./api.js";
import { alertBox, announce, badge, confirmDialog, debounce, field, h, mount, pager, showErrors, table } from "./dom.js";

const STATUSES = ["active", "unsubscribed", "bounced", "complained"];

function importPanel(onDone) {
  const alert = alertBox();
  const input = h("input", { type: "file", id: "csv-file", accept: ".csv,text/csv" });
  const progress = h("progress", { max: 100, value: 0, hidden: true, "aria-label": "Upload progress" });
  const report = h("div", { "aria-live": "polite" });
  const drop = h("div", { className: "drop" },
    h("p", {}, "Drop a CSV file here, or choose one."),
    field("CSV file", input, "Columns: email (required), first_name, last_name, company, title; others become attributes."),
    progress);

  async function upload(file) {
    if (!file) return;
    alert.show("");
    report.replaceChildren(h("p", {}, `Uploading ${file.name}…`));
    progress.hidden = false;
    progress.value = 0;
    try {
      const result = await uploadCsv(file, (loaded, total) => { progress.value = Math.round((loaded / total) * 100); });
      progress.value = 100;
      report.replaceChildren(
        h("p", { className: "note" }, `Imported ${file.name}: ${result.inserted} new, ${result.updated} updated, ` +
          `${result.unchanged} unchanged, ${result.duplicates} duplicate rows, ${result.invalid} invalid` +
          (result.suppressed ? `; ${result.suppressed} of the new were suppressed before and will not be mailed.` : ".")),
        result.errors.length ? table("Rows not imported", ["Line", "Reason"],
          result.errors.map((e) => [e.line, e.reason]), { numeric: [0] }) : null);
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
    h("h2", { id: "import-heading" }, "Import from CSV"), drop, alert, report);
}

export async function prospectList(_params, life) {
  const alert = alertBox();
  const search = h("input", { type: "search", id: "prospect-search", autocomplete: "off" });
  const status = h("select", { id: "prospect-status" }, h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s }, s)));
  const holder = h("div", {}, h("p", {}, "Loading prospects…"));
  let page = 1;

  async function load() {
    try {
      const result = await api("GET", `/api/prospects${query({ q: search.value.trim(), status: status.value, page, limit: 25 })}`);
      holder.replaceChildren(
        table("Prospects", ["Email", "Name", "Company", "Status", "Actions"], result.items.map((p) => [
          p.email, [p.first_name, p.last_name].filter(Boolean).join(" "), p.company ?? "", badge(p.status),
          h("span", { className: "actions" },
            h("a", { className: "button quiet", href: `#/prospects/${p.id}`, "aria-label": `Edit ${p.email}` }, "Edit"),
            h("button", { type: "button", className: "danger", "aria-label": `Delete ${p.email}`,
                          onclick: () => remove(p) }, "Delete"))])),
        pager(result.page, (next) => { page = next; load(); }));
      alert.show("");
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

  mount(h("h1", {}, "Prospects"), importPanel(() => { page = 1; load(); }),
    h("h2", {}, "Find prospects"),
    h("div", { className: "row" },
      h("div", { className: "grow" }, h("label", { for: "prospect-search" }, "Search"), search),
      h("div", {}, h("label", { for: "prospect-status" }, "Status"), status)),
    alert, holder);
  search.addEventListener("input", debounce(() => { page = 1; load(); }, 300));
  status.addEventListener("change", () => { page = 1; load(); });
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
  const form = h("form", { novalidate: true }, Object.values(fields),
    h("div", { className: "actions" }, h("button", { type: "submit" }, "Save"),
      h("a", { className: "button quiet", href: "#/prospects" }, "Back to prospects")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = {};
    for (const [name] of names) data[name] = controls[name].value.trim() || null;
    if (controls.status.value !== prospect.status) data.status = controls.status.value;
    try {
      await api("PATCH", `/api/prospects/${id}`, data);
      announce("Saved.");
      location.hash = "#/prospects";
    } catch (error) { showErrors(error, fields, alert); }
  });
  mount(h("h1", {}, `Edit ${prospect.email}`), alert, form);
}
