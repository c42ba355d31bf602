// The Outreach admin: a hash router over the gateway's JSON API. No build step, no CDN.
import { api, signIn, signOutEverywhere, signedIn } from "./api.js";
import { campaignDetail, campaignList } from "./campaigns.js";
import { alertBox, field, h, mount } from "./dom.js";
import { campaignEditor } from "./editor.js";
import { prospectEditor, prospectList } from "./prospects.js";
import { refreshUnread, replyDetail, replyList } from "./replies.js";
import { reputationView } from "./reputation.js";
import { segmentEditor, segmentList } from "./segments.js";

const ROUTES = [
  [/^#\/campaigns\/new$/, campaignEditor, "New campaign"],
  [/^#\/campaigns\/(?<id>[0-9a-f-]{36})\/edit$/, campaignEditor, "Edit campaign"],
  [/^#\/campaigns\/(?<id>[0-9a-f-]{36})$/, campaignDetail, "Campaign"],
  [/^#\/campaigns$/, campaignList, "Campaigns"],
  [/^#\/prospects\/(?<id>[0-9a-f-]{36})$/, prospectEditor, "Edit prospect"],
  [/^#\/prospects$/, prospectList, "Prospects"],
  [/^#\/segments\/new$/, segmentEditor, "New segment"],
  [/^#\/segments\/(?<id>[0-9a-f-]{36})$/, segmentEditor, "Segment"],
  [/^#\/segments$/, segmentList, "Segments"],
  [/^#\/replies\/(?<id>[0-9a-f-]{36})$/, replyDetail, "Reply"],
  [/^#\/replies$/, replyList, "Replies"],
  [/^#\/reputation$/, reputationView, "Reputation"],
];

// What a view leaves running (polling) stops when the admin goes elsewhere.
class Life {
  constructor() { this.timers = []; }
  every(ms, fn) { this.timers.push(setInterval(fn, ms)); }
  end() { this.timers.forEach(clearInterval); }
}

let life = new Life();

function loginView(message) {
  const alert = alertBox();
  const email = h("input", { type: "email", id: "login-email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", id: "login-password", autocomplete: "current-password", required: true });
  const form = h("form", { className: "login" },
    h("h1", {}, "Sign in"),
    message ? h("p", { className: "note" }, message) : null,
    alert, field("Email", email), field("Password", password),
    h("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await signIn(email.value.trim(), password.value);
      location.hash = "#/campaigns";
      route();
    } catch (error) {
      alert.show(error.status === 401 ? "The email or password is wrong." : error.message);
      password.value = "";
      password.focus();
    }
  });
  mount(form);
  email.focus();
}

function chrome(visible) {
  if (!visible) {
    document.getElementById("mail-mode").hidden = true;
    document.getElementById("ses-problems").hidden = true;
    sesChecked = false;
  }
  document.getElementById("nav").hidden = !visible;
  document.getElementById("sign-out").hidden = !visible;
  for (const link of document.querySelectorAll("#nav a")) {
    if (location.hash.startsWith(link.getAttribute("href"))) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// Said on every page while mail goes to the emulator: nothing the admin sends is delivered.
async function showMailMode() {
  const banner = document.getElementById("mail-mode");
  try {
    const system = await api("GET", "/api/system");
    banner.textContent = system.ses_mode === "emulator"
      ? "Test mode: mail goes to the local SES emulator and is not delivered. Set SES_MODE=aws to send for real."
      : "";
    banner.hidden = system.ses_mode !== "emulator";
  } catch { banner.hidden = true; }
}

// Once a session: what stops SES from sending (sandbox, unverified identity, refused
// credentials, sending paused), from GET /api/ses/account; nothing when all is known well.
let sesChecked = false;
async function showSesProblems() {
  if (sesChecked) return;
  sesChecked = true;
  const box = document.getElementById("ses-problems");
  try {
    const account = await api("GET", "/api/ses/account");
    box.replaceChildren(h("strong", {}, "Sending cannot work yet."),
      h("ul", {}, account.problems.map((problem) => h("li", {}, problem))));
    box.hidden = account.problems.length === 0;
  } catch { box.hidden = true; sesChecked = false; }
}

async function route() {
  life.end();
  life = new Life();
  if (!signedIn()) {
    chrome(false);
    document.title = "Sign in · Outreach admin";
    loginView();
    return;
  }
  chrome(true);
  showMailMode();
  showSesProblems();
  refreshUnread();
  const hash = location.hash || "#/campaigns";
  const match = ROUTES.map(([pattern, view, title]) => [hash.match(pattern), view, title]).find(([m]) => m);
  if (!match) {
    location.hash = "#/campaigns";
    return;
  }
  const [found, view, title] = match;
  document.title = `${title} · Outreach admin`;
  const main = document.getElementById("main");
  try {
    await view(found.groups || {}, life);
  } catch (error) {
    if (!signedIn()) return;  // signed out meanwhile: the login shows
    mount(h("h1", {}, title), h("div", { className: "alert", role: "alert" }, error.message));
  }
  main.focus();
}

window.addEventListener("hashchange", route);
window.addEventListener("outreach:signed-out", () => {
  life.end();
  chrome(false);
  loginView("Your session has ended. Sign in again.");
});
document.getElementById("sign-out").addEventListener("click", async () => {
  await signOutEverywhere();
  location.hash = "";
  route();
});
route();
