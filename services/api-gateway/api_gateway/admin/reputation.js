// Reputation: per sending domain, our own bounce and complaint rates (last 24 h, last 7
// days, day by day) against the rates at which SES reviews an account and may pause it.
import { api, query } from "./api.js";
import { alertBox, announce, badge, confirmDialog, h, mount, table, when } from "./dom.js";

const STATE_TEXT = { ok: "ok", review: "under review at SES's rate", pause: "SES may pause sending" };
const percent = (rate) => `${(rate * 100).toFixed(rate && rate < 0.01 ? 2 : 1)} %`;

function windowRow(label, w) {
  return [label, w.sent.toLocaleString(), w.bounced.toLocaleString(), percent(w.bounce_rate),
    w.complained.toLocaleString(), percent(w.complaint_rate), h("span", {}, badge(w.state), " ", STATE_TEXT[w.state])];
}

function chart(container, domain, thresholds) {
  if (!window.uPlot || !domain.daily.length) return;
  const xs = domain.daily.map((d) => Date.parse(`${d.day}T00:00:00Z`) / 1000);
  const flat = (value) => xs.map(() => value * 100);
  const data = [xs, domain.daily.map((d) => d.bounce_rate * 100), domain.daily.map((d) => d.complaint_rate * 100),
    flat(thresholds.bounce_rate.review), flat(thresholds.complaint_rate.review)];
  const width = Math.max(240, container.clientWidth || 600);
  const plot = new window.uPlot({
    width, height: 220,
    series: [{}, { label: "bounce rate %", stroke: "#b45309", width: 2 }, { label: "complaint rate %", stroke: "#b91c1c", width: 2 },
      { label: "bounce review %", stroke: "#b45309", dash: [6, 4] }, { label: "complaint review %", stroke: "#b91c1c", dash: [2, 4] }],
    axes: [{}, { label: "%" }],
  }, data, container);
  new ResizeObserver(() => plot.setSize({ width: Math.max(240, container.clientWidth), height: 220 })).observe(container);
  plot.root.setAttribute("role", "img");
  plot.root.setAttribute("aria-label", `Daily bounce and complaint rates of ${domain.domain}, with SES's review rates`);
}

// The warm-up: each sending domain's allowance today (WARMUP_SCHEDULE), and the admin's
// "this domain is warm" or "start its ramp again".
function warmupSection(warmup, alert, reload) {
  const heading = h("h2", { id: "warmup-heading" }, "Warm-up");
  if (!warmup.enabled) {
    return h("section", { id: "warmup", "aria-labelledby": "warmup-heading" }, heading,
      h("p", {}, "No warm-up: WARMUP_SCHEDULE is off, so new sending domains send at the full quota from day 1."));
  }
  const change = async (domain, warm) => {
    const ok = await confirmDialog(warm
      ? { title: `Mark ${domain.domain} warm?`, confirm: "Mark warm",
          body: "Its daily volume is then limited only by the SES quota and the daily cap. Do this for a domain with a sending history elsewhere." }
      : { title: `Restart the warm-up of ${domain.domain}?`, confirm: "Restart at day 1",
          body: `Its daily volume follows the schedule again from today: ${warmup.schedule[0]} sends today.` });
    if (!ok) return;
    try {
      await api("PUT", `/api/ses/warmup/${encodeURIComponent(domain.domain)}`, { warm });
      announce(warm ? `${domain.domain} is warm.` : `${domain.domain} starts its warm-up again.`);
      await reload();
    } catch (error) { alert.show(error.message); }
  };
  const rows = warmup.domains.map((d) => [
    d.domain,
    d.warm ? h("span", {}, badge("warm"), d.marked_by ? ` (marked by ${d.marked_by})` : "")
      : d.day ? `day ${d.day} of ${warmup.schedule.length}` : "not sent from yet",
    d.allowance == null ? "no limit" : d.allowance.toLocaleString(),
    d.sent_today.toLocaleString(),
    d.remaining == null ? "–" : d.remaining.toLocaleString(),
    d.warm ? h("button", { type: "button", className: "secondary", onclick: () => change(d, false) }, "Restart warm-up")
      : h("button", { type: "button", onclick: () => change(d, true) }, "Mark warm"),
  ]);
  return h("section", { id: "warmup", "aria-labelledby": "warmup-heading" }, heading,
    h("p", { className: "hint" },
      `A new sending domain sends at most ${warmup.schedule.slice(0, 4).join(", ")}${warmup.schedule.length > 4 ? " …" : ""} ` +
      `messages on its first days (days in ${warmup.timezone}); a campaign whose domain has used the day's allowance waits ` +
      "for the next day (\"warmup\") and goes on by itself."),
    table("Warm-up of the sending domains", ["Domain", "Ramp", "Allowed today", "Sent today", "Remaining", "Action"],
      rows, { numeric: [2, 3, 4] }));
}

// The kill switch: sending on the SES configuration set. The account's guard turns it off;
// only an admin turns it on again, knowing SES then resets the set's reputation metrics.
function switchSection(state, alert, reload) {
  const heading = h("h2", { id: "switch-heading" }, "Sending on the configuration set");
  const where = state.configuration_set ? `configuration set ${state.configuration_set}` : "no configuration set (SES_CONFIGURATION_SET)";
  const told = state.applied ? `SES was told ${when(state.applied_at)}.`
    : state.apply_error ? `SES did not take it yet: ${state.apply_error}` : "The sender is telling SES.";
  const change = async (enabled) => {
    const ok = await confirmDialog(enabled
      ? { title: "Re-enable sending?", confirm: "Re-enable sending", danger: true,
          body: "SES resets the configuration set's reputation metrics when sending is re-enabled, and the account's guard " +
            "starts counting again from now. Clean the list first: remove the addresses that bounced or complained. " +
            "Paused campaigns stay paused until you resume them." }
      : { title: "Disable sending?", confirm: "Disable sending", danger: true,
          body: "SES refuses every message on the configuration set, from Outreach or any other tool, until it is re-enabled; " +
            "sending campaigns pause." });
    if (!ok) return;
    try {
      await api("PUT", "/api/ses/sending", enabled ? { enabled, acknowledge_reset: true } : { enabled });
      announce(enabled ? "Sending re-enabled." : "Sending disabled.");
      await reload();
    } catch (error) { alert.show(error.message); }
  };
  return h("section", { id: "kill-switch", "aria-labelledby": "switch-heading" }, heading,
    h("p", { id: "switch-state" }, "Status: ", badge(state.enabled ? "enabled" : "disabled"), ` on ${where}. `,
      state.enabled ? "" : `${state.reason || ""} (by ${state.changed_by || "?"}, ${when(state.changed_at)}). `, told),
    h("button", { type: "button", className: state.enabled ? "secondary" : "", onclick: () => change(!state.enabled) },
      state.enabled ? "Disable sending" : "Re-enable sending"));
}

export async function reputationView() {
  const alert = alertBox();
  let result, warmup, sending;
  try {
    [result, warmup, sending] = await Promise.all([api("GET", `/api/ses/reputation${query({ days: 14 })}`),
      api("GET", "/api/ses/warmup"), api("GET", "/api/ses/sending")]);
  } catch (error) { alert.show(error.message); mount(h("h1", {}, "Reputation"), alert); return; }
  const t = result.thresholds;
  const intro = h("p", { className: "hint" },
    `Our own counts of each sending domain's sends, their permanent bounces and complaints. SES reviews an ` +
    `account at ${percent(t.bounce_rate.review)} bounces or ${percent(t.complaint_rate.review)} complaints and ` +
    `may pause its sending at ${percent(t.bounce_rate.pause)} or ${percent(t.complaint_rate.pause)}.`);
  const sections = result.domains.map((domain) => {
    const plot = h("div", { className: "chart" });
    const section = h("section", { "aria-labelledby": `rep-${domain.domain}` },
      h("h2", { id: `rep-${domain.domain}` }, domain.domain),
      table(`Rates of ${domain.domain}`, ["Window", "Sent", "Bounced", "Bounce rate", "Complained", "Complaint rate", "State"],
        [windowRow("Last 24 hours", domain.last_24h), windowRow("Last 7 days", domain.last_7d)], { numeric: [1, 2, 3, 4, 5] }),
      plot);
    requestAnimationFrame(() => chart(plot, domain, t));
    return section;
  });
  mount(h("h1", {}, "Reputation"), intro, alert, switchSection(sending, alert, reputationView),
    ...(sections.length ? sections : [h("p", {}, "Nothing sent in the last 14 days.")]),
    warmupSection(warmup, alert, reputationView));
}
