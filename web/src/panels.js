// The dashboard's live view is a column of panels beside the students' code, under the sticky
// lesson bar. A feature adds its own panel here rather than editing the page template:
//
//   const body = addPanel("integrity", "Integrity signals", { order: 50 });
//   body.append(...);
//
// Panels are ordered by `order` (lower first; the built-in ones use 10..60), each is a
// labelled <section> (a landmark for screen readers), and `removePanel(id)` takes one away.
import { h, $ } from "./dom.js";

export function addPanel(id, title, { order = 100 } = {}) {
  const root = $("#panels");
  if (!root) throw new Error("this page has no panel area");
  removePanel(id);
  const heading = h("h2", { id: `panel-${id}-title` }, title);
  const body = h("div", { class: "panel-body", id: `panel-${id}-body` });
  const section = h("section", { class: "panel card", id: `panel-${id}`, "aria-labelledby": heading.id, dataset: { order: String(order), panel: id } }, heading, body);
  const after = [...root.children].find((el) => Number(el.dataset.order) > order);
  root.insertBefore(section, after ?? null);
  return body;
}

export function removePanel(id) {
  document.getElementById(`panel-${id}`)?.remove();
}
