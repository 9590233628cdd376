// Short notices (achievements, errors) in one aria-live region, so a screen reader announces
// them without moving focus. Each fades after a while; the newest is on top.
import { h } from "./dom.js";

let region = null;

function ensureRegion() {
  if (!region) {
    region = h("div", { class: "toasts", role: "status", "aria-live": "polite", "data-testid": "toasts" });
    document.body.append(region);
  }
  return region;
}

export function toast(title, body = "", kind = "info", ms = 6000) {
  const el = h("div", { class: `toast toast-${kind}` }, h("strong", {}, title), body ? h("p", {}, body) : null);
  ensureRegion().prepend(el);
  setTimeout(() => el.remove(), ms);
  return el;
}
