// Building the page: elements from data with textContent only (never HTML from data).

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "className") element.className = value;
    else if (name === "value") element.value = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function mount(...children) {
  const main = document.getElementById("main");
  main.replaceChildren(...children.flat().filter((child) => child !== undefined && child !== null && child !== false));
  return main;
}

export function announce(message) {
  const status = document.getElementById("status");
  status.textContent = "";
  setTimeout(() => { status.textContent = message; }, 50);
  setTimeout(() => { if (status.textContent === message) status.textContent = ""; }, 5000);
}

let fieldCounter = 0;

// A labelled control with a hint and an error slot tied to it by aria-describedby.
export function field(label, control, hint) {
  const id = control.id || `field-${++fieldCounter}`;
  control.id = id;
  const error = h("p", { className: "field-error", id: `${id}-error`, hidden: true });
  const hintElement = hint ? h("p", { className: "hint", id: `${id}-hint` }, hint) : null;
  control.setAttribute("aria-describedby", [hintElement && hintElement.id, error.id].filter(Boolean).join(" "));
  const wrapper = h("div", { className: "field" }, h("label", { for: id }, label), control, hintElement, error);
  wrapper.showError = (message) => {
    error.textContent = message || "";
    error.hidden = !message;
    if (message) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  };
  return wrapper;
}

// An error box that screen readers announce.
export function alertBox() {
  const box = h("div", { className: "alert", role: "alert" });
  box.show = (message) => { box.textContent = message || ""; };
  return box;
}

// A modal question; resolves true when confirmed. The dialog element keeps focus inside.
export function confirmDialog({ title, body, confirm, danger = false }) {
  return new Promise((resolve) => {
    const heading = h("h2", { id: "dialog-title" }, title);
    const dialog = h("dialog", { "aria-labelledby": "dialog-title" },
      heading,
      h("p", {}, body),
      h("div", { className: "actions" },
        h("button", { type: "button", className: danger ? "danger" : "", value: "yes",
                      onclick: () => dialog.close("yes") }, confirm),
        h("button", { type: "button", className: "quiet", onclick: () => dialog.close("no") }, "Cancel")));
    dialog.addEventListener("close", () => { dialog.remove(); resolve(dialog.returnValue === "yes"); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function badge(status) {
  return h("span", { className: `badge ${status}` }, status.replace("_", " "));
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

export function table(caption, headings, rows, { numeric = [] } = {}) {
  // Focusable, so that a table wider than a phone scrolls with the keyboard too.
  return h("div", { className: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h("table", {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headings.map((name, i) =>
        h("th", { scope: "col", className: numeric.includes(i) ? "num" : null }, name)))),
      h("tbody", {}, rows.length ? rows.map((cells) => h("tr", {}, cells.map((cell, i) =>
        h("td", { className: numeric.includes(i) ? "num" : null }, cell))))
        : h("tr", {}, h("td", { colspan: headings.length }, "Nothing here yet.")))));
}

export function pager(page, onPage) {
  return h("nav", { className: "pager", "aria-label": "Pages" },
    h("button", { type: "button", className: "quiet", disabled: page.page <= 1,
                  onclick: () => onPage(page.page - 1) }, "Previous page"),
    h("span", {}, `Page ${page.page} of ${Math.max(page.pages, 1)} (${page.total} in all)`),
    h("button", { type: "button", className: "quiet", disabled: page.page >= page.pages,
                  onclick: () => onPage(page.page + 1) }, "Next page"));
}

// Apply an API error's details to the form's fields; what matches no field goes to the alert.
export function showErrors(error, fields, alert) {
  for (const wrapper of Object.values(fields)) wrapper.showError("");
  const loose = [];
  for (const detail of error.details || []) {
    const name = (detail.field || "").split(".").pop();
    if (fields[name]) fields[name].showError(detail.message);
    else loose.push(detail.message);
  }
  alert.show([error.message, ...loose].join(" "));
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}
