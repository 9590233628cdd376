// The one notification area: short notices (a saved copy, an error, your own achievement) in
// one aria-live region, so a screen reader announces them without moving focus. It is quiet:
// at most two at once (a new one pushes out the oldest), a repeat of the same notice refreshes
// it instead of stacking, and each fades after a while. Nothing here is the only record of
// anything: achievements also go to the page's list, results stay in their panel.
import { h } from "./dom.js";

const MAX_SHOWN = 2;
let region = null;

// A page may give the area a place of its own (the room page: in its header, where a notice
// covers nothing); elsewhere it floats in a corner.
function ensureRegion() {
  if (!region) {
    const spot = document.getElementById("notices");
    region = h("div", { class: spot ? "toasts inline" : "toasts", role: "status", "aria-live": "polite", "data-testid": "toasts" });
    (spot ?? document.body).append(region);
  }
  return region;
}

export function toast(title, body = "", kind = "info", ms = 6000) {
  const root = ensureRegion();
  const key = `${kind}\u0000${title}\u0000${body}`;
  for (const old of root.children) if (old.dataset.key === key) old.remove();
  const el = h("div", { class: `toast toast-${kind}`, dataset: { key } }, h("strong", {}, title), body ? h("p", {}, body) : null);
  root.prepend(el);
  while (root.children.length > MAX_SHOWN) root.lastElementChild.remove();
  setTimeout(() => el.remove(), ms);
  return el;
}
