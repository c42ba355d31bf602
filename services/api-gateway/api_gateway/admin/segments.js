// Segments: the list, and the builder of a saved rule with a live count. The rule builder
// is also the campaign editor's audience rule (docs/audiences.md has the rule's shape).
import { api } from "./api.js";
import { alertBox, announce, confirmDialog, debounce, field, h, mount, showErrors, table } from "./dom.js";
import { LAWFUL_BASES } from "./prospects.js";

const STATUSES = ["active", "unsubscribed", "bounced", "complained"];
const ENGAGEMENTS = ["sent", "opened", "clicked", "replied", "bounced"];
// What a condition can test, and how: [key, label, ops]. Attributes get one entry per custom field.
const FIELDS = [
  ["tags", "Tag", [["has", "is"]]],
  ["status", "Status", [["eq", "is"], ["in", "is one of"]]],
  ["email_domain", "Email domain", [["eq", "is"], ["in", "is one of"]]],
  ["company", "Company", [["eq", "is"], ["contains", "contains"]]],
  ["title", "Title", [["eq", "is"], ["contains", "contains"]]],
  ["address_flags", "Address flag", [["has", "is"]]],
  ["lawful_basis", "Lawful basis", [["eq", "is"], ["in", "is one of"], ["exists", "is recorded"]]],
  ["source.file", "Imported from file", [["eq", "is"], ["contains", "contains"]]],
  ["source.note", "Source note", [["eq", "is"], ["contains", "contains"]]],
  ["created_at", "Added", [["after", "after"], ["before", "before"]]],
  ["updated_at", "Last changed", [["after", "after"], ["before", "before"]]],
];
const ATTRIBUTE_OPS = [["eq", "is"], ["contains", "contains"], ["exists", "has a value"]];
const ENGAGEMENT_OPS = [["within_days", "in the last N days, any campaign"], ["campaign_id", "in the campaign"]];

function options(pairs, chosen) {
  return pairs.map(([value, label]) => h("option", { value, selected: value === chosen }, label));
}

function listOf(text) {
  return text.split(/[;,]/).map((t) => t.trim()).filter(Boolean);
}

// A flat rule (one condition, or all/any of conditions, each maybe negated) as rows for the
// builder; null when the rule nests deeper than the builder shows (the JSON editor takes it).
function flatten(rule) {
  const one = (r) => {
    const negated = r && typeof r === "object" && "not" in r && Object.keys(r).length === 1;
    const inner = negated ? r.not : r;
    if (!inner || typeof inner !== "object" || "all" in inner || "any" in inner || "not" in inner) return null;
    return { ...inner, negated };
  };
  if (rule && (Array.isArray(rule.all) || Array.isArray(rule.any))) {
    const match = Array.isArray(rule.all) ? "all" : "any";
    const rows = rule[match].map(one);
    return rows.every(Boolean) && rows.length ? { match, rows } : null;
  }
  const row = one(rule);
  return row ? { match: "all", rows: [row] } : null;
}

// The rule builder: rows of conditions matched all or any, or the rule as JSON for shapes
// the rows cannot show. `onChange(rule)` fires as it is edited (null while the JSON is unreadable).
export function ruleBuilder({ id, attributeKeys = [], campaigns = [], onChange }) {
  const fields = [...FIELDS, ...attributeKeys.map((key) => [`attributes.${key}`, `Custom field ${key}`, ATTRIBUTE_OPS]),
                  ["engagement", "Engagement", ENGAGEMENT_OPS]];
  const match = h("select", { id: `${id}-match` }, options([["all", "all of these"], ["any", "any of these"]], "all"));
  const list = h("ol", { className: "conditions", "aria-label": "Conditions" });
  const json = h("textarea", { id: `${id}-json`, spellcheck: "false", rows: 8 });
  const jsonField = field("The rule as JSON", json, "Any rule of the API; the builder shows flat ones.");
  const toggle = h("button", { type: "button", className: "quiet" }, "Edit as JSON");
  const builderBox = h("div", {}, h("div", { className: "row" },
    h("div", {}, h("label", { for: `${id}-match` }, "Match"), match)), list,
    h("button", { type: "button", className: "quiet", onclick: () => { addRow(); changed(); } }, "Add condition"));
  let asJson = false;
  let counter = 0;

  function addRow(condition = { field: "tags", op: "has", value: "" }) {
    const n = ++counter;
    const key = condition.engagement ? "engagement" : condition.field;
    const fieldSelect = h("select", { id: `${id}-field-${n}` }, options(fields.map(([k, label]) => [k, label]), key));
    const opSelect = h("select", { id: `${id}-op-${n}` });
    const valueBox = h("div", { className: "grow" });
    const negated = h("input", { type: "checkbox", id: `${id}-not-${n}`, checked: Boolean(condition.negated) });
    const item = h("li", { className: "condition" });
    let value = () => undefined;

    function ops() {
      const [, , pairs] = fields.find(([k]) => k === fieldSelect.value);
      return pairs;
    }
    function renderValue(initial) {
      const label = h("label", { for: `${id}-value-${n}` }, "Value");
      const op = opSelect.value;
      let control;
      if (fieldSelect.value === "engagement") {
        const kind = h("select", { id: `${id}-kind-${n}` }, options(ENGAGEMENTS.map((e) => [e, e]), initial?.engagement));
        control = op === "campaign_id"
          ? h("select", { id: `${id}-value-${n}` }, options(campaigns.map((c) => [c.id, c.name]), initial?.campaign_id))
          : h("input", { id: `${id}-value-${n}`, type: "number", min: 1, max: 3650, value: initial?.within_days ?? 30 });
        valueBox.replaceChildren(h("div", { className: "row" },
          h("div", {}, h("label", { for: `${id}-kind-${n}` }, "Prospect was"), kind),
          h("div", { className: "grow" }, label, control)));
        value = () => ({ engagement: kind.value,
                         [op]: op === "within_days" ? Number(control.value) : control.value });
        return;
      }
      if (op === "exists") {
        valueBox.replaceChildren();
        value = () => ({ field: fieldSelect.value, op });
        return;
      }
      const initialValue = Array.isArray(initial?.value) ? initial.value.join(", ") : initial?.value ?? "";
      if (fieldSelect.value === "status" && op === "eq") {
        control = h("select", { id: `${id}-value-${n}` }, options(STATUSES.map((s) => [s, s]), initialValue));
      } else if (fieldSelect.value === "address_flags") {
        control = h("select", { id: `${id}-value-${n}` },
          options([["role", "role address"], ["disposable", "disposable"], ["no_mx", "no mail domain"]], initialValue));
      } else if (fieldSelect.value === "lawful_basis" && op === "eq") {
        control = h("select", { id: `${id}-value-${n}` }, options(LAWFUL_BASES.filter(([v]) => v), initialValue));
      } else if (fieldSelect.value.endsWith("_at")) {
        control = h("input", { id: `${id}-value-${n}`, type: "date", value: String(initialValue).slice(0, 10) });
      } else {
        control = h("input", { id: `${id}-value-${n}`, type: "text", autocomplete: "off", value: initialValue,
                               placeholder: op === "in" ? "comma-separated" : "" });
      }
      valueBox.replaceChildren(label, control);
      value = () => ({ field: fieldSelect.value, op, value: op === "in" ? listOf(control.value) : control.value.trim() });
    }
    function renderOps(initial) {
      const pairs = ops();
      const chosen = initial ? (initial.engagement ? (initial.campaign_id ? "campaign_id" : "within_days") : initial.op) : pairs[0][0];
      opSelect.replaceChildren(...options(pairs, chosen));
      renderValue(initial);
    }
    fieldSelect.addEventListener("change", () => { renderOps(null); changed(); });
    opSelect.addEventListener("change", () => { renderValue(null); changed(); });
    renderOps(condition);
    item.condition = () => (negated.checked ? { not: value() } : value());
    item.append(h("div", { className: "row" },
      h("div", {}, h("label", { for: fieldSelect.id }, "Field"), fieldSelect),
      h("div", {}, h("label", { for: opSelect.id }, "Condition"), opSelect),
      valueBox,
      h("div", { className: "check" }, negated, h("label", { for: negated.id }, "Not")),
      h("button", { type: "button", className: "quiet", "aria-label": "Remove this condition",
                    onclick: () => { item.remove(); changed(); } }, "Remove")));
    list.append(item);
  }

  function fromRows() {
    const conditions = [...list.children].map((item) => item.condition());
    if (conditions.length === 1 && match.value === "all") return conditions[0];
    return { [match.value]: conditions };
  }

  function rule() {
    if (!asJson) return list.children.length ? fromRows() : null;
    try { return JSON.parse(json.value); } catch { return null; }
  }

  function changed() {
    jsonField.showError(asJson && rule() === null && json.value.trim() ? "This is not valid JSON yet." : "");
    onChange?.(rule());
  }

  function showJson(on) {
    asJson = on;
    builderBox.hidden = on;
    jsonField.hidden = !on;
    toggle.textContent = on ? "Use the builder" : "Edit as JSON";
  }

  function set(value) {
    list.replaceChildren();
    const flat = value ? flatten(value) : { match: "all", rows: [] };
    if (flat) {
      match.value = flat.match;
      flat.rows.forEach(addRow);
      if (!flat.rows.length) addRow();
      showJson(false);
    } else {
      json.value = JSON.stringify(value, null, 2);
      showJson(true);
    }
  }

  toggle.addEventListener("click", () => {
    if (!asJson) {
      json.value = JSON.stringify(rule(), null, 2);
      showJson(true);
      return;
    }
    const parsed = rule();
    const flat = parsed && flatten(parsed);
    if (!flat) { jsonField.showError("The builder shows one level of conditions; this rule stays as JSON."); return; }
    set(parsed);
    changed();
  });
  match.addEventListener("change", changed);
  builderBox.addEventListener("input", debounce(changed, 300));
  json.addEventListener("input", debounce(changed, 300));
  showJson(false);
  addRow();
  const element = h("div", { className: "rule-builder" }, builderBox, jsonField, toggle);
  return { element, rule, set, showError: (message) => jsonField.showError(message) };
}

// "N prospects match" and the newest few, for a rule (POST /api/segments/preview), as it is edited.
export function liveCount(label) {
  const count = h("p", { className: "count", "aria-live": "polite" });
  const sample = h("div", {});
  let asked = 0;
  async function update(rule) {
    const mine = ++asked;
    if (!rule) { count.textContent = "Add a condition to see who matches."; sample.replaceChildren(); return; }
    try {
      const result = await api("POST", "/api/segments/preview", { rule, limit: 5 });
      if (mine !== asked) return;  // an answer to an older rule
      count.textContent = `${result.count} prospect${result.count === 1 ? "" : "s"} match now.`;
      sample.replaceChildren(result.items.length ? table(label, ["Email", "Status"],
        result.items.map((p) => [p.email, p.status])) : "");
    } catch (error) {
      if (mine !== asked) return;
      count.textContent = error.details.length
        ? error.details.map((d) => `${d.field}: ${d.message}`).join(" ") : error.message;
      sample.replaceChildren();
    }
  }
  return { element: h("div", { className: "live-count" }, count, sample), update };
}

export async function segmentList() {
  const alert = alertBox();
  const holder = h("div", {}, h("p", {}, "Loading segments…"));
  mount(h("h1", {}, "Segments"),
    h("p", { className: "hint" }, "A segment is a saved rule: campaigns that use it reach whoever matches it as they send."),
    h("div", { className: "actions" }, h("a", { className: "button", href: "#/segments/new" }, "New segment")),
    alert, holder);
  try {
    const { items } = await api("GET", "/api/segments");
    const counts = await Promise.all(items.map((s) => api("GET", `/api/segments/${s.id}/count?limit=1`)
      .then((r) => r.count, () => "–")));
    holder.replaceChildren(table("Saved segments", ["Segment", "Matches now", "Changed"],
      items.map((s, i) => [h("a", { href: `#/segments/${s.id}` }, s.name), counts[i],
                           new Date(s.updated_at).toLocaleString()]), { numeric: [1] }));
  } catch (error) { alert.show(error.message); }
}

export async function segmentEditor({ id }) {
  const alert = alertBox();
  const [keys, campaigns, segment] = await Promise.all([
    api("GET", "/api/fields").catch(() => ({ custom: [] })),
    api("GET", "/api/campaigns?limit=200").catch(() => ({ items: [] })),
    id ? api("GET", `/api/segments/${id}`) : null]);
  const name = h("input", { id: "segment-name", type: "text", autocomplete: "off", value: segment?.name ?? "" });
  const nameField = field("Name", name);
  const counter = liveCount("The newest matching prospects");
  const builder = ruleBuilder({ id: "segment-rule", attributeKeys: keys.custom, campaigns: campaigns.items,
                                onChange: counter.update });
  if (segment) builder.set(segment.rule);
  const remove = id && h("button", { type: "button", className: "danger", onclick: async () => {
    const ok = await confirmDialog({ title: `Delete “${segment.name}”?`,
      body: "Prospects are not touched. A campaign that may still send to this segment keeps it from being deleted.",
      confirm: "Delete", danger: true });
    if (!ok) return;
    try {
      await api("DELETE", `/api/segments/${id}`);
      announce("Segment deleted.");
      location.hash = "#/segments";
    } catch (error) { alert.show(error.message); }
  } }, "Delete");
  const form = h("form", { novalidate: true }, nameField,
    h("fieldset", {}, h("legend", {}, "Who is in it"), builder.element), counter.element,
    h("div", { className: "actions" }, h("button", { type: "submit" }, "Save segment"), remove,
      h("a", { className: "button quiet", href: "#/segments" }, "All segments")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: name.value.trim(), rule: builder.rule() };
    try {
      const saved = id ? await api("PATCH", `/api/segments/${id}`, body) : await api("POST", "/api/segments", body);
      nameField.showError("");
      announce("Segment saved.");
      if (!id) location.hash = `#/segments/${saved.id}`;
    } catch (error) {
      showErrors(error, { name: nameField }, alert);
    }
  });
  mount(h("h1", {}, segment ? `Segment ${segment.name}` : "New segment"), alert, form);
  await counter.update(builder.rule());
}
