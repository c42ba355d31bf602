// Replies: the inbox of mail received for the reply domain, and one reply beside the
// messages we sent that prospect (docs/replies.md).
import { api } from "./api.js";
import { alertBox, announce, badge, h, mount, pager, table, when } from "./dom.js";

const KINDS = [["", "All"], ["reply", "Replies"], ["unsubscribe_request", "Removal requests"],
               ["auto_reply", "Automatic answers"], ["bounce", "Delivery reports"], ["unmatched", "Unmatched"]];
const KIND_NAMES = { reply: "reply", unsubscribe_request: "removal request", auto_reply: "automatic answer",
                     bounce: "delivery report" };

function kindOf(reply) {
  if (!reply.processed) return "being read";
  return KIND_NAMES[reply.classification] ?? reply.classification;
}

function sender(reply) {
  return reply.from_name ? `${reply.from_name} <${reply.from ?? ""}>` : (reply.from ?? "(no sender)");
}

// The navigation's count of replies not yet handled; refreshed by the pages that change it.
export async function refreshUnread() {
  const badgeEl = document.getElementById("replies-unread");
  if (!badgeEl) return;
  try {
    const { unhandled } = await api("GET", "/api/replies?limit=1&handled=false");
    badgeEl.textContent = unhandled ? String(unhandled) : "";
    badgeEl.hidden = !unhandled;
    badgeEl.setAttribute("aria-label", `${unhandled} not handled`);
  } catch { badgeEl.hidden = true; }
}

export async function replyList(_params, life) {
  const alert = alertBox();
  const kind = h("select", { id: "replies-kind" }, KINDS.map(([value, label]) => h("option", { value }, label)));
  const open = h("input", { id: "replies-open", type: "checkbox", checked: true });
  const holder = h("div", {}, h("p", {}, "Loading replies…"));
  const pages = h("div", {});
  let page = 1;
  let asked = 0;
  async function load() {
    const mine = ++asked;
    const params = new URLSearchParams({ page: String(page), limit: "25" });
    if (kind.value) params.set("classification", kind.value);
    if (open.checked) params.set("handled", "false");
    try {
      const result = await api("GET", `/api/replies?${params}`);
      if (mine !== asked) return;  // the answer to an older filter
      holder.replaceChildren(table("Received mail, newest first", ["From", "Subject", "What", "Campaign", "Received", "Handled"],
        result.items.map((r) => [sender(r),
          h("a", { href: `#/replies/${r.id}` }, r.subject || "(no subject)"),
          h("span", {}, kindOf(r), r.flagged ? h("span", { className: "badge failed" }, ` ${r.flagged}`) : null),
          r.campaign_name ? `${r.campaign_name} (step ${r.step})` : (r.processed ? "unmatched" : ""),
          when(r.received_at), r.handled ? "yes" : "no"])));
      pages.replaceChildren(pager(result.page, (next) => { page = next; load(); }));
    } catch (error) { alert.show(error.message); }
    refreshUnread();
  }
  kind.addEventListener("change", () => { page = 1; load(); });
  open.addEventListener("change", () => { page = 1; load(); });
  mount(h("h1", {}, "Replies"),
    h("p", { className: "hint" }, "Mail received for the reply domain. Replies stop the prospect's follow-ups and are forwarded to the campaign's owner."),
    h("div", { className: "row filters" },
      h("div", {}, h("label", { for: "replies-kind" }, "Show"), kind),
      h("div", { className: "check" }, open, h("label", { for: "replies-open" }, "Only those not handled yet"))),
    alert, holder, pages);
  await load();
  life.every(30_000, load);
}

export async function replyDetail({ id }) {
  const alert = alertBox();
  let reply = await api("GET", `/api/replies/${id}`);
  const holder = h("div", {});
  function render() {
    const facts = h("dl", { className: "facts" },
      h("dt", {}, "From"), h("dd", {}, sender(reply)),
      h("dt", {}, "Received"), h("dd", {}, when(reply.received_at)),
      h("dt", {}, "What it is"), h("dd", {}, kindOf(reply),
        reply.flagged ? ` — flagged as ${reply.flagged} by SES: kept, not forwarded` : ""),
      h("dt", {}, "Matched"), h("dd", {}, reply.match_method
        ? `${reply.campaign_name ?? "a campaign"}, step ${reply.step} (by ${reply.match_method})` : "to no prospect"),
      h("dt", {}, "Forwarded"), h("dd", {}, reply.forward_outcome
        ? `${reply.forward_outcome} (to ${reply.forward_to})` : "no"));
    const frame = h("iframe", { title: "The reply as its sender wrote it", className: "reply-frame",
                                sandbox: "", referrerpolicy: "no-referrer" });
    if (reply.html) frame.srcdoc = reply.html;
    const body = reply.html ? frame : h("pre", { className: "reply-text" }, reply.text ?? "(no text)");
    const attachments = reply.attachments.length
      ? h("ul", { "aria-label": "Attachments" }, reply.attachments.map((a) =>
        h("li", {}, `${a.filename ?? "(unnamed)"} — ${a.content_type}, ${a.size.toLocaleString()} bytes (not served)`)))
      : null;
    const sent = table("What we sent this prospect", ["Campaign", "Step", "Sent", "Status"],
      reply.sent.map((s) => [h("a", { href: `#/campaigns/${s.campaign_id}` }, s.campaign_name), String(s.step),
                             when(s.attempted_at), badge(s.status)]), { numeric: [1] });
    const toggle = h("button", { type: "button", onclick: async () => {
      try {
        reply = await api("PATCH", `/api/replies/${id}`, { handled: !reply.handled });
        announce(reply.handled ? "Marked handled." : "Marked not handled.");
        render();
        refreshUnread();
      } catch (error) { alert.show(error.message); }
    } }, reply.handled ? "Mark not handled" : "Mark handled");
    holder.replaceChildren(
      h("div", { className: "actions" }, toggle, h("a", { className: "button quiet", href: "#/replies" }, "All replies")),
      h("div", { className: "reply-layout" },
        h("section", { "aria-labelledby": "reply-message" }, h("h2", { id: "reply-message" }, "The message"), facts,
          body, attachments),
        h("section", { "aria-labelledby": "reply-sent" }, h("h2", { id: "reply-sent" }, "Our messages"), sent)));
  }
  mount(h("h1", {}, reply.subject || "(no subject)"), alert, holder);
  render();
}
