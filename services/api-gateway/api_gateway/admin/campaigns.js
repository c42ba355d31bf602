// Campaigns: the live list, and one campaign's page (actions, funnel, chart, opt-outs, sends).
import { api, query } from "./api.js";
import { alertBox, announce, badge, confirmDialog, debounce, h, mount, pager, table, when } from "./dom.js";

const LIVE_MS = 2000;

export async function campaignList(_params, life) {
  const alert = alertBox();
  const holder = h("div", {}, h("p", {}, "Loading campaigns…"));
  mount(
    h("h1", {}, "Campaigns"),
    h("div", { className: "actions" }, h("a", { className: "button", href: "#/campaigns/new" }, "New campaign")),
    alert, holder);
  let page = 1;
  async function load() {
    try {
      const result = await api("GET", `/api/campaigns${query({ page, limit: 25 })}`);
      holder.replaceChildren(
        table("All campaigns, newest first",
          ["Campaign", "Status", "Sent", "Delivered", "Opened", "Clicked", "Bounced", "Unsubscribed"],
          result.items.map((c) => [
            h("a", { href: `#/campaigns/${c.id}` }, c.name), badge(c.status), c.stats.sent, c.stats.delivered,
            c.stats.opened, c.stats.clicked, c.stats.bounced, c.stats.unsubscribed]),
          { numeric: [2, 3, 4, 5, 6, 7] }),
        pager(result.page, (next) => { page = next; load(); }));
      alert.show("");
    } catch (error) { alert.show(error.message); }
  }
  await load();
  life.every(LIVE_MS, load);
}

// What each pause code means for the admin, and what lifts it (docs/operations.md).
// Why a sending campaign waits (its wait_reason).
const WAIT_REASONS = {
  schedule: "the schedule, a follow-up's wait or the daily limit",
  domain_pacing: "every recipient domain left has had its share this minute: DOMAIN_RATE_PER_MINUTE",
  warmup: "the sending domain's warm-up allowance for today is used; see the Warm-up page",
};
const PAUSES = {
  manual: ["Paused by an admin", "Resume it when you are ready."],
  credentials: ["AWS refused the credentials", "Every sending campaign paused. Fix the AWS keys, then resume."],
  sandbox: ["The SES account is in the sandbox", "Every sending campaign paused. Request production access in SES, then resume."],
  configuration: ["SES is not set up for this sender", "Every sending campaign paused. Verify the identity or configuration set, then resume."],
  account_paused: ["SES stopped sending for the account", "Every sending campaign paused. Resume once SES allows sending again."],
  daily_quota: ["The SES daily quota is used up", "Resumes by itself"],
  daily_cap: ["The daily sending cap is reached", "Resumes by itself"],
  failure_run: ["Too many sends failed in a row", "Read the last error, fix the list or the message, then resume."],
  ses_unavailable: ["SES did not answer clearly", "Those sends are marked unknown. Resume when SES is back."],
  template: ["The template cannot be rendered", "Edit it, then resume."],
  reputation: ["Bounces or complaints passed their limit", "Clean the list, then resume."],
};

function pauseNote(campaign) {
  const [title, lift] = PAUSES[campaign.pause_reason] ?? ["Paused", "Resume it when you are ready."];
  const lifts = campaign.resumes_at ? `${lift} at ${when(campaign.resumes_at)}.` : lift;
  return h("div", { className: "pause-note", "data-pause": campaign.pause_reason ?? "" },
    h("p", {}, h("strong", {}, title), campaign.status_reason ? ` — ${campaign.status_reason}` : ""),
    h("p", {}, lifts));
}

function percent(part, whole) {
  return whole ? `${Math.round((part / whole) * 1000) / 10} %` : "–";
}

function funnel(stats) {
  const steps = [["Sent", stats.sent], ["Delivered", stats.delivered], ["Opened", stats.opened],
                 ["Clicked", stats.clicked]];
  return h("ol", { className: "funnel", "aria-label": "Funnel" }, steps.map(([name, value]) =>
    h("li", {},
      h("span", {}, name),
      h("span", { className: "track", "aria-hidden": "true" },
        h("span", { className: "fill", "data-width": percent(value, stats.sent) })),
      h("span", { className: "num" }, `${value} (${percent(value, stats.sent)})`))));
}

const STOP_WORDS = { reply: "replied", unsubscribe: "unsubscribed", complaint: "complained", bounce: "bounced",
                     click: "clicked", open: "opened", manual: "stopped by an admin" };

// Each step's sends and what came of them, as a table (the numbers are the point).
function stepFunnel(steps) {
  return table("Each step: sent, and what came of it", ["Step", "Sent", "Delivered", "Opened", "Clicked", "Replied",
    "Bounced", "Unsubscribed", "Stopped after"],
  steps.map((s) => [s.step === 1 ? "1 (the message)" : String(s.step), s.sent, `${s.delivered} (${percent(s.delivered, s.sent)})`,
    `${s.opened} (${percent(s.opened, s.sent)})`, `${s.clicked} (${percent(s.clicked, s.sent)})`,
    `${s.replied} (${percent(s.replied, s.sent)})`, s.bounced, s.unsubscribed, s.stopped]),
  { numeric: [1, 2, 3, 4, 5, 6, 7, 8] });
}

function sizeBars(root) {
  // Widths through the CSSOM: the page's Content-Security-Policy forbids style attributes.
  for (const fill of root.querySelectorAll(".fill")) {
    const width = parseFloat(fill.dataset.width);
    fill.style.display = "block";
    fill.style.width = Number.isFinite(width) ? `${width}%` : "0";
  }
}

const SERIES = [["sent", "#0b5cad"], ["delivered", "#1d6b35"], ["opened", "#7a4d00"], ["clicked", "#6f2da8"],
                ["bounced", "#a4161a"], ["unsubscribed", "#4d5661"]];

function drawChart(container, timeline) {
  if (container.plot) { container.plot.destroy(); container.plot = null; }
  if (container.observer) container.observer.disconnect();
  container.replaceChildren();
  if (!timeline.points.length || !window.uPlot) {
    container.append(h("p", {}, "No events yet."));
    return;
  }
  const xs = timeline.points.map((p) => Date.parse(p.at) / 1000);
  const data = [xs, ...SERIES.map(([name]) => timeline.points.map((p) => p[name]))];
  const width = Math.max(240, container.clientWidth || 600);
  const seconds = timeline.bucket_seconds;
  const bucket = seconds >= 86400 ? `${seconds / 86400} d` : seconds >= 3600 ? `${seconds / 3600} h`
    : seconds >= 60 ? `${seconds / 60} min` : `${seconds} s`;
  container.append(h("p", { className: "hint" }, `Events per ${bucket}.`));
  const plot = new window.uPlot({
    width, height: 240,
    series: [{}, ...SERIES.map(([name, stroke]) => ({ label: name, stroke, width: 2 }))],
    axes: [{}, { label: "events" }],
  }, data, container);
  container.plot = plot;
  // The chart follows the page's width (a phone turned, a window resized).
  container.observer = new ResizeObserver(() => plot.setSize({ width: Math.max(240, container.clientWidth), height: 240 }));
  container.observer.observe(container);
  plot.root.setAttribute("role", "img");
  plot.root.setAttribute("aria-label", `Events over time: ${SERIES.map(([name], i) =>
    `${name} ${data[i + 1].reduce((a, b) => a + b, 0)}`).join(", ")}`);
}

export async function campaignDetail({ id }, life) {
  const alert = alertBox();
  const heading = h("h1", {}, "Campaign");
  const summary = h("div", {});
  const actions = h("div", { className: "actions" });
  const funnelBox = h("div", {});
  const chart = h("div", { className: "chart" });
  const feedbackBox = h("div", {});
  const stepsBox = h("div", { id: "campaign-steps-funnel" });
  const queueBox = h("div", { id: "campaign-queue" });
  const stopsBox = h("div", { id: "campaign-stops" });
  const sendsBox = h("div", {});
  const search = h("input", { type: "search", id: "send-search", autocomplete: "off" });
  const statusFilter = h("select", { id: "send-status" }, h("option", { value: "" }, "Any status"),
    ["sent", "delivered", "opened", "clicked", "bounced", "complained", "unsubscribed", "failed", "rejected",
     "rendering_failed", "delivery_delayed", "unknown"].map((s) => h("option", { value: s }, s.replace("_", " "))));
  mount(heading, alert, summary, actions,
    h("h2", {}, "Funnel"), funnelBox,
    h("h2", {}, "By step"), stepsBox,
    h("h2", {}, "Due next"), queueBox,
    h("h2", {}, "Stopped sequences"), stopsBox,
    h("h2", {}, "Events over time"), chart,
    h("h2", {}, "Bounces, complaints and unsubscribes"), feedbackBox,
    h("h2", {}, "Recipients"),
    h("div", { className: "row" },
      h("div", { className: "grow" }, h("label", { for: "send-search" }, "Search by address"), search),
      h("div", {}, h("label", { for: "send-status" }, "Status"), statusFilter)),
    sendsBox);

  let campaign = null;
  let retryable = { failed: 0, unknown: 0 };
  let sendsPage = 1;

  async function act(label, work) {
    try {
      await work();
      announce(label);
      await refresh();
    } catch (error) { alert.show(error.message); }
  }

  async function send() {
    const current = await api("GET", `/api/campaigns/${id}`);
    const eligible = current.stats.eligible ?? 0;
    const followUps = current.stats.follow_ups_left ?? 0;
    const again = campaign.status === "completed";
    if (again && eligible === 0 && followUps === 0) {
      alert.show("Every eligible prospect has had this campaign already, and no follow-up is left. " +
                 "Add prospects or a follow-up, then send it again.");
      return;
    }
    const verb = campaign.status === "paused" ? "Resume" : "Send";
    const who = again ? `new prospect${eligible === 1 ? "" : "s"}` : `prospect${eligible === 1 ? "" : "s"}`;
    const owed = again && followUps > 0
      ? ` ${followUps} prospect${followUps === 1 ? "" : "s"} in the sequence ${followUps === 1 ? "has" : "have"} ` +
        "a follow-up left, sent when it is due."
      : "";
    const ok = await confirmDialog({
      title: `${verb} “${campaign.name}”${again ? " again" : ""}?`,
      body: `${eligible} ${who} ${eligible === 1 ? "is" : "are"} eligible and will receive this message ` +
            "at the configured sending rate." + owed + " " +
            (again ? "Those who had it already are left out, as are " : "Left out: ") +
            "unsubscribed, bounced and suppressed prospects.",
      confirm: again ? (eligible > 0 ? `Send to ${eligible} new` : "Send the follow-ups") : `${verb} to ${eligible}`,
    });
    if (ok) await act("Sending started.", () => api("POST", "/api/campaigns/send", { campaignId: id }));
  }

  async function retry(includeUnknown) {
    const failed = retryable.failed;
    const unknown = includeUnknown ? retryable.unknown : 0;
    const count = failed + unknown;
    const ok = await confirmDialog({
      title: includeUnknown ? "Retry failed and unknown sends?" : `Retry ${failed} failed send${failed === 1 ? "" : "s"}?`,
      body: includeUnknown
        ? `${count} send${count === 1 ? "" : "s"} go back in line. Careful: SES may already have delivered ` +
          `the ${unknown} unknown one${unknown === 1 ? "" : "s"}, so ${unknown === 1 ? "that prospect" : "those prospects"} ` +
          "may get this message twice. Unsubscribed and suppressed prospects stay left out."
        : `They go back in line and are sent again, once each, at the sending rate` +
          (campaign.status === "paused" ? " when you resume the campaign." : ".") +
          " Unsubscribed and suppressed prospects stay left out.",
      confirm: includeUnknown ? `Retry ${count}, duplicates possible` : `Retry ${failed}`,
      danger: includeUnknown,
    });
    if (!ok) return;
    await act("Sends put back in line.", async () => {
      const result = await api("POST", `/api/campaigns/${id}/retry`, { include_unknown: includeUnknown });
      announce(`${result.requeued} send${result.requeued === 1 ? "" : "s"} put back in line.`);
    });
  }

  function renderActions() {
    const status = campaign.status;
    const canRetry = !["draft", "cancelled"].includes(status);
    actions.replaceChildren(...[
      ["draft", "paused"].includes(status) &&
        h("button", { type: "button", onclick: send }, status === "paused" ? "Resume" : "Send…"),
      status === "completed" && h("button", { type: "button", onclick: send }, "Send again…"),
      status === "sending" && h("button", { type: "button", className: "quiet",
        onclick: () => act("Paused.", () => api("PATCH", `/api/campaigns/${id}`, { status: "paused" })) }, "Pause"),
      canRetry && retryable.failed > 0 && h("button", { type: "button", className: "quiet",
        onclick: () => retry(false) }, `Retry ${retryable.failed} failed…`),
      canRetry && retryable.unknown > 0 && h("button", { type: "button", className: "quiet",
        onclick: () => retry(true) }, `Retry with ${retryable.unknown} unknown…`),
      ["draft", "paused"].includes(status) &&
        h("a", { className: "button quiet", href: `#/campaigns/${id}/edit` }, "Edit"),
      ["sending", "completed"].includes(status) &&
        h("a", { className: "button quiet", href: `#/campaigns/${id}/edit` }, "Edit follow-ups"),
      h("a", { className: "button quiet", href: "#/campaigns" }, "All campaigns")].filter(Boolean));
  }

  let sendsAsked = 0;
  async function loadSends() {
    const mine = ++sendsAsked;
    const result = await api("GET", `/api/campaigns/${id}/sends${query({
      q: search.value.trim(), status: statusFilter.value, page: sendsPage, limit: 25 })}`);
    if (mine !== sendsAsked) return;  // the answer to an older search
    sendsBox.replaceChildren(
      table("Recipients of this campaign", ["Recipient", "Status", "Sent", "Last event", "Error"],
        result.items.map((s) => [s.email ?? "(erased)", badge(s.status), when(s.attempted_at),
          when(s.clicked_at || s.opened_at || s.delivered_at || s.bounced_at || s.complained_at || s.unsubscribed_at),
          s.error ?? ""])),
      pager(result.page, (next) => { sendsPage = next; loadSends().catch((e) => alert.show(e.message)); }));
  }

  async function refresh() {
    try {
      const [detail, timeline, feedback, queue, stops] = await Promise.all([
        api("GET", `/api/campaigns/${id}`), api("GET", `/api/campaigns/${id}/timeline`),
        api("GET", `/api/campaigns/${id}/feedback`), api("GET", `/api/campaigns/${id}/queue`),
        api("GET", `/api/campaigns/${id}/stops?limit=25`)]);
      campaign = detail.campaign;
      retryable = detail.retryable ?? { failed: 0, unknown: 0 };
      const stats = detail.stats;
      heading.textContent = campaign.name;
      document.title = `${campaign.name} · Outreach admin`;
      const paused = campaign.status === "paused";
      summary.replaceChildren(
        h("p", {}, "Status: ", badge(campaign.status),
          !paused && campaign.status_reason ? ` — ${campaign.status_reason}` : "",
          " · From ", campaign.from_name ? `${campaign.from_name} <${campaign.from_email}>` : campaign.from_email),
        paused ? pauseNote(campaign) : "",
        campaign.next_send_at ? h("p", { id: "campaign-next-send" },
          `Waiting: nothing may go before ${when(campaign.next_send_at)} (${WAIT_REASONS[campaign.wait_reason] || WAIT_REASONS.schedule}).`) : "",
        h("div", { className: "stats", "aria-label": "Counts" },
          [["Eligible now", stats.eligible ?? "–"], ["Sent", stats.sent], ["Bounced", stats.bounced],
           ["Complained", stats.complained], ["Unsubscribed", stats.unsubscribed], ["Failed", stats.failed],
           ["Unknown", stats.unknown]].map(([name, value]) =>
            h("div", { className: "stat", "data-stat": name.toLowerCase() }, h("b", {}, value), name))));
      renderActions();
      funnelBox.replaceChildren(funnel(stats));
      sizeBars(funnelBox);
      drawChart(chart, timeline);
      stepsBox.replaceChildren(stepFunnel(stats.steps ?? []));
      queueBox.replaceChildren(table("Follow-ups due next, earliest first", ["Due", "Recipient", "Step"],
        queue.items.map((q) => [when(q.due_at), q.email, `Step ${q.step}`])));
      stopsBox.replaceChildren(table(`Prospects whose follow-ups stopped (${stops.total} in all), newest first`,
        ["When", "Recipient", "Why", "Would have had"],
        stops.items.map((st) => [when(st.stopped_at), st.email, STOP_WORDS[st.reason] ?? st.reason,
          st.next_step ? `Step ${st.next_step}` : "–"])));
      feedbackBox.replaceChildren(table("Opt-outs and failures, newest first", ["When", "Kind", "Recipient", "Reason"],
        feedback.items.map((f) => [when(f.at), f.kind, f.email ?? "(erased)", f.reason ?? ""])));
      await loadSends();
      alert.show("");
    } catch (error) { alert.show(error.message); }
  }

  search.addEventListener("input", debounce(() => { sendsPage = 1; loadSends().catch((e) => alert.show(e.message)); }, 300));
  statusFilter.addEventListener("change", () => { sendsPage = 1; loadSends().catch((e) => alert.show(e.message)); });
  await refresh();
  // Live while it sends, and for a while after: events from SES keep arriving.
  const live = () => campaign && (campaign.status === "sending" ||
    (campaign.completed_at && Date.now() - Date.parse(campaign.completed_at) < 15 * 60 * 1000));
  life.every(LIVE_MS, () => { if (live()) refresh(); });
}
