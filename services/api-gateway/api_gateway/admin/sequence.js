// The campaign editor's sequence: follow-up steps as a vertical list with their waits, the
// stop rules, the daily limit, and the schedule (timezone, days, hours, start) with a small
// weekly grid. Each part's value() is the part of the campaign's payload it owns.
import { field, h } from "./dom.js";

const UNITS = [["D", "days"], ["H", "hours"], ["M", "minutes"]];
const DAYS = [["mon", "Mon"], ["tue", "Tue"], ["wed", "Wed"], ["thu", "Thu"], ["fri", "Fri"], ["sat", "Sat"], ["sun", "Sun"]];
const STOPS = [["reply", "a reply"], ["unsubscribe", "an unsubscribe"], ["complaint", "a complaint"],
               ["bounce", "a bounce"], ["click", "a click"], ["open", "an open"], ["auto_reply", "an automatic answer"]];
let stepCounter = 0;

// "P2D" -> [2, "D"]; "PT4H" -> [4, "H"]; a mixed wait keeps its text in the custom box.
function splitWait(wait) {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/.exec(wait || "");
  if (!match) return null;
  const parts = [[match[1], "D"], [match[2], "H"], [match[3], "M"]].filter(([n]) => n !== undefined);
  return parts.length === 1 ? [Number(parts[0][0]), parts[0][1]] : null;
}

export function describeWait(wait, stopOn) {
  const split = splitWait(wait);
  const amount = split ? `${split[0]} ${UNITS.find(([u]) => u === split[1])[1].replace(/s$/, split[0] === 1 ? "" : "s")}`
    : wait;
  const unless = stopOn.includes("reply") ? ", if no reply" : "";
  return `${amount} later${unless}`;
}

function stepCard(list, data, onChange) {
  const n = ++stepCounter;
  const split = splitWait(data.wait) || [2, "D"];
  const amount = h("input", { id: `step-${n}-amount`, type: "number", min: 0, max: 365, inputmode: "numeric",
                              value: String(split[0]) });
  const unit = h("select", { id: `step-${n}-unit`, "aria-label": "Unit of the wait" }, UNITS.map(([u, label]) => h("option", { value: u }, label)));
  unit.value = split[1];
  const subject = h("input", { id: `step-${n}-subject`, type: "text", autocomplete: "off", value: data.subject ?? "" });
  const html = h("textarea", { id: `step-${n}-body_html`, spellcheck: "true" });
  html.value = data.body_html ?? "";
  const text = h("textarea", { id: `step-${n}-body_text`, spellcheck: "true" });
  text.value = data.body_text ?? "";
  const heading = h("h2", {});
  const summary = h("p", { className: "hint" });
  const remove = h("button", { type: "button", className: "quiet" }, "Remove step");
  const fields = {
    wait: field("Wait", h("span", { className: "row" }, amount, unit),
      "Counted from the previous step. Days count only the schedule's sending days."),
    subject: field("Subject", subject, "Optional: left empty, it is \"Re: \" and step 1's subject, in the same thread."),
    body_html: field("HTML body", html, "Placeholders and fallbacks as in step 1."),
    body_text: field("Plain-text body", text, "Optional: made from the HTML when left empty."),
  };
  // The wait's field wraps both controls: the label points at the number.
  fields.wait.querySelector("label").setAttribute("for", amount.id);
  const card = h("li", { className: "step card" }, heading, summary, Object.values(fields), remove);
  const step = {
    card, fields, id: data.id,
    value() {
      return { ...(step.id ? { id: step.id } : {}), wait: amount.value === "" ? "" : `P${unit.value === "D" ? "" : "T"}${Number(amount.value)}${unit.value}`,
               subject: subject.value.trim() || null, body_html: html.value, body_text: text.value.trim() ? text.value : null };
    },
    label(number, stopOn) {
      heading.textContent = `Step ${number}`;
      summary.textContent = describeWait(step.value().wait, stopOn);
      remove.setAttribute("aria-label", `Remove step ${number}`);
    },
  };
  remove.addEventListener("click", () => { list.remove(step); onChange(); });
  card.addEventListener("input", onChange);
  return step;
}

export function sequenceEditor(onChange) {
  const steps = [];
  const list = h("ol", { className: "steps", id: "campaign-steps" });
  const stops = STOPS.map(([value, label]) => {
    const box = h("input", { type: "checkbox", id: `stop-on-${value}`, value });
    return [box, h("div", { className: "choice" }, box, h("label", { for: box.id }, label))];
  });
  const limit = h("input", { id: "campaign-daily_new_limit", type: "number", min: 1, inputmode: "numeric" });
  const error = h("p", { className: "field-error", hidden: true });
  const add = h("button", { type: "button", className: "quiet", id: "add-step" }, "Add a follow-up");
  const element = h("fieldset", { id: "campaign-sequence" }, h("legend", {}, "Follow-ups"),
    h("p", { className: "hint" }, "Step 1 is the message above. Each follow-up goes as a reply in the prospect's thread."),
    list, add,
    h("fieldset", { className: "inline" }, h("legend", {}, "Stop a prospect's follow-ups on"), stops.map(([, c]) => c)),
    field("New prospects a day", limit, "Optional: at most this many start step 1 each day; due follow-ups go first."),
    error);
  const handle = {
    remove(step) {
      steps.splice(steps.indexOf(step), 1);
      step.card.remove();
      relabel();
    },
  };
  function stopOn() { return stops.filter(([box]) => box.checked).map(([box]) => box.value); }
  function relabel() { steps.forEach((step, i) => step.label(i + 2, stopOn())); }
  function append(data) {
    const step = stepCard(handle, data, () => { relabel(); onChange(); });
    steps.push(step);
    list.append(step.card);
    relabel();
    return step;
  }
  add.addEventListener("click", () => {
    const step = append({ wait: "P2D", body_html: "" });
    step.fields.body_html.querySelector("textarea").focus();
  });
  for (const [box] of stops) box.addEventListener("change", () => { relabel(); onChange(); });
  element.showError = (message) => { error.textContent = message || ""; error.hidden = !message; };
  return {
    element, steps,
    value() {
      return { steps: steps.map((s) => s.value()), stop_on: stopOn(),
               daily_new_limit: limit.value.trim() === "" ? null : Number(limit.value) };
    },
    set(campaign) {
      for (const step of [...steps]) handle.remove(step);
      for (const step of campaign.steps ?? []) append(step);
      for (const [box] of stops) box.checked = (campaign.stop_on ?? []).includes(box.value);
      limit.value = campaign.daily_new_limit ?? "";
      relabel();
    },
  };
}

function zones() {
  try { return Intl.supportedValuesOf("timeZone"); } catch { return ["UTC", "Europe/Berlin", "Europe/London", "America/New_York"]; }
}

export function schedulePicker(onChange) {
  const enabled = h("input", { type: "checkbox", id: "schedule-enabled" });
  const zoneNames = zones();
  const zone = h("select", { id: "schedule-timezone" }, h("option", { value: "prospect" }, "Each prospect's own timezone"),
    zoneNames.map((z) => h("option", { value: z }, z)));
  zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const fallback = h("select", { id: "schedule-fallback" }, zoneNames.map((z) => h("option", { value: z }, z)));
  fallback.value = "UTC";
  const from = h("input", { id: "schedule-from", type: "time", value: "09:00" });
  const to = h("input", { id: "schedule-to", type: "time", value: "17:00" });
  const untilMidnight = h("input", { type: "checkbox", id: "schedule-end-of-day" });
  const startAt = h("input", { id: "schedule-start_at", type: "datetime-local" });
  const days = DAYS.map(([value, label]) => {
    const box = h("input", { type: "checkbox", id: `schedule-day-${value}`, value, checked: !["sat", "sun"].includes(value) });
    return [box, h("div", { className: "choice" }, box, h("label", { for: box.id }, label))];
  });
  const grid = h("div", { className: "week", id: "schedule-week", role: "img" });
  const fallbackField = field("Fallback timezone", fallback, "For prospects without a timezone of their own.");
  const details = h("div", {},
    field("Timezone", zone, "The window's local time: a 09:00 start stays 09:00 across daylight-saving changes."),
    fallbackField,
    h("fieldset", { className: "inline" }, h("legend", {}, "Sending days"), days.map(([, c]) => c)),
    h("div", { className: "row" }, field("From", from), field("To", to)),
    h("div", { className: "choice" }, untilMidnight, h("label", { for: untilMidnight.id }, "Until the end of the day")),
    field("Not before", startAt, "Optional: nothing goes before this moment (your browser's local time)."),
    grid);
  const element = h("fieldset", { id: "campaign-schedule" }, h("legend", {}, "Schedule"),
    h("div", { className: "choice" }, enabled, h("label", { for: enabled.id }, "Send only in a weekly window")), details);

  function chosenDays() { return days.filter(([box]) => box.checked).map(([box]) => box.value); }
  function draw() {
    details.hidden = !enabled.checked;
    fallbackField.hidden = zone.value !== "prospect";
    to.disabled = untilMidnight.checked;
    const end = untilMidnight.checked ? "24:00" : to.value;
    const chosen = new Set(chosenDays());
    grid.setAttribute("aria-label", chosen.size
      ? `Sends on ${DAYS.filter(([d]) => chosen.has(d)).map(([, l]) => l).join(", ")} from ${from.value} to ${end}`
      : "No sending day chosen");
    const [fromH, toH] = [Number(from.value.slice(0, 2)), end === "24:00" ? 24 : Number(end.slice(0, 2)) + (end.slice(3) > "00" ? 1 : 0)];
    grid.replaceChildren(...DAYS.map(([value, label]) => {
      const open = h("span", { className: chosen.has(value) ? "week-open" : "week-closed" });
      if (chosen.has(value)) {  // CSSOM, not a style attribute: the page's CSP allows no inline styles
        open.style.marginLeft = `${(fromH / 24) * 100}%`;
        open.style.width = `${(Math.max(toH - fromH, 0) / 24) * 100}%`;
      }
      return h("div", { className: "week-day" }, h("span", {}, label), h("span", { className: "week-bar" }, open));
    }));
  }
  for (const control of [enabled, zone, from, to, untilMidnight, ...days.map(([b]) => b)]) {
    control.addEventListener("change", () => { draw(); onChange(); });
  }
  draw();
  element.showError = () => {};
  return {
    element,
    value() {
      if (!enabled.checked) return { schedule: null };
      return { schedule: {
        timezone: zone.value, fallback_timezone: fallback.value, days: chosenDays(), from: from.value,
        to: untilMidnight.checked ? "24:00" : to.value,
        start_at: startAt.value ? new Date(startAt.value).toISOString() : null,
      } };
    },
    set(schedule) {
      enabled.checked = Boolean(schedule);
      if (schedule) {
        zone.value = schedule.timezone;
        fallback.value = schedule.fallback_timezone ?? "UTC";
        for (const [box] of days) box.checked = schedule.days.includes(box.value);
        from.value = schedule.from;
        untilMidnight.checked = schedule.to === "24:00";
        if (!untilMidnight.checked) to.value = schedule.to;
        if (schedule.start_at) {
          const at = new Date(schedule.start_at);
          startAt.value = new Date(at.getTime() - at.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
        }
      }
      draw();
    },
  };
}
