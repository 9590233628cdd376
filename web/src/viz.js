// Visualization frames of demo steps, drawn as plain SVG/HTML: arrays ({values, highlight,
// note}), graphs ({nodes: [{id, label}], edges: [[from, to]], highlight, note}) and trees (a
// graph whose edges go parent -> child). A step's visualization is {kind, frames: [...]}
// stepped with Previous/Next; a mermaid one shows its source text.
import { h, clear } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, text = null) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text !== null) el.textContent = String(text);
  return el;
}

function arrayFrame(frame) {
  const values = frame.values ?? frame.data ?? [];
  const marks = new Set(frame.highlight ?? []);
  const pointers = Object.entries(frame.pointers ?? {});
  const cells = values.map((value, index) => {
    const names = pointers.filter(([, at]) => at === index).map(([name]) => name);
    return h(
      "li",
      { class: marks.has(index) ? "cell hot" : "cell" },
      h("span", { class: "value" }, value),
      h("span", { class: "index" }, index),
      names.length ? h("span", { class: "pointer" }, names.join(", ")) : null,
    );
  });
  return h("ol", { class: "viz-array", "aria-label": `array of ${values.length}: ${values.join(", ")}` }, cells);
}

function childrenOf(node) {
  if (Array.isArray(node.children)) return node.children.filter(Boolean);
  return [node.left, node.right].filter(Boolean);
}

/** A {nodes, edges} tree as nested {value, id, children}, rooted at the node nobody points to. */
function nestGraph(frame) {
  const edges = (frame.edges ?? []).map((e) => (Array.isArray(e) ? e : [e.from ?? e.source, e.to ?? e.target]).map(String));
  const byId = new Map((frame.nodes ?? []).map((n) => [String(n.id), { id: n.id, value: n.label ?? n.id, children: [] }]));
  const pointed = new Set(edges.map(([, to]) => to));
  for (const [from, to] of edges) {
    if (byId.has(from) && byId.has(to)) byId.get(from).children.push(byId.get(to));
  }
  return [...byId.values()].find((n) => !pointed.has(String(n.id))) ?? { value: "(empty)", children: [] };
}

function treeFrame(frame) {
  const root = frame.nodes ? nestGraph(frame) : (frame.root ?? frame.tree ?? frame);
  const marks = new Set((frame.highlight ?? []).map(String));
  const placed = [];
  let leaf = 0;
  // Leaves take consecutive columns; a parent sits above the middle of its children.
  const place = (node, depth) => {
    const kids = childrenOf(node).map((child) => place(child, depth + 1));
    const x = kids.length ? (kids[0].x + kids[kids.length - 1].x) / 2 : leaf++;
    const item = { node, x, depth, kids };
    placed.push(item);
    return item;
  };
  place(root, 0);
  const width = Math.max(1, leaf) * 56 + 16;
  const height = (Math.max(...placed.map((p) => p.depth)) + 1) * 64 + 8;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "viz-tree", role: "img" });
  svg.append(s("title", {}, `tree rooted at ${root.value}`));
  const pos = (p) => [p.x * 56 + 36, p.depth * 64 + 28];
  for (const p of placed) {
    for (const kid of p.kids) {
      const [x1, y1] = pos(p);
      const [x2, y2] = pos(kid);
      svg.append(s("line", { x1, y1, x2, y2, class: "edge" }));
    }
  }
  for (const p of placed) {
    const [cx, cy] = pos(p);
    const hot = marks.has(String(p.node.id ?? p.node.value));
    svg.append(s("circle", { cx, cy, r: 20, class: hot ? "node hot" : "node" }));
    svg.append(s("text", { x: cx, y: cy + 5, "text-anchor": "middle" }, p.node.value));
  }
  return svg;
}

function graphFrame(frame) {
  const nodes = frame.nodes ?? [];
  const marks = new Set((frame.highlight ?? []).map(String));
  const size = 320;
  const radius = nodes.length > 1 ? 120 : 0;
  const at = new Map();
  nodes.forEach((node, index) => {
    const angle = (2 * Math.PI * index) / Math.max(1, nodes.length) - Math.PI / 2;
    at.set(String(node.id), [size / 2 + radius * Math.cos(angle), size / 2 + radius * Math.sin(angle)]);
  });
  const svg = s("svg", { viewBox: `0 0 ${size} ${size}`, class: "viz-graph", role: "img" });
  svg.append(s("title", {}, `graph of ${nodes.length} nodes`));
  const defs = s("defs");
  const marker = s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 28, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" });
  marker.append(s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }));
  defs.append(marker);
  svg.append(defs);
  for (const edge of frame.edges ?? []) {
    const [from, to] = Array.isArray(edge) ? edge : [edge.from ?? edge.source, edge.to ?? edge.target];
    const a = at.get(String(from));
    const b = at.get(String(to));
    if (!a || !b) continue;
    const attrs = { x1: a[0], y1: a[1], x2: b[0], y2: b[1], class: "edge" };
    if (frame.directed !== false) attrs["marker-end"] = "url(#arrow)";
    svg.append(s("line", attrs));
    if (edge.label !== undefined) svg.append(s("text", { x: (a[0] + b[0]) / 2, y: (a[1] + b[1]) / 2 - 4, class: "edge-label" }, edge.label));
  }
  for (const node of nodes) {
    const [cx, cy] = at.get(String(node.id));
    svg.append(s("circle", { cx, cy, r: 20, class: marks.has(String(node.id)) ? "node hot" : "node" }));
    svg.append(s("text", { x: cx, y: cy + 5, "text-anchor": "middle" }, node.label ?? node.id));
  }
  return svg;
}

export function renderFrame(frame, kindOfAll = null) {
  const kind = kindOfAll ?? frame.kind ?? (frame.nodes ? "graph" : frame.values ? "array" : "tree");
  const body = kind === "array" ? arrayFrame(frame) : kind === "graph" ? graphFrame(frame) : treeFrame(frame);
  const caption = frame.note ?? frame.caption;
  return h("figure", { class: `viz viz-${kind}` }, body, caption ? h("figcaption", {}, caption) : null);
}

let mermaidLoaded = null;

/** Loads web/static/mermaid.js once (same origin, so within the page's CSP). */
function loadMermaid() {
  if (window.classroomMermaid) return Promise.resolve(window.classroomMermaid);
  mermaidLoaded ??= new Promise((resolve, reject) => {
    const version = new URL(document.querySelector("script[src*='/static/app.js']")?.src ?? location.href).searchParams.get("v") ?? "";
    const script = h("script", { src: `/static/mermaid.js?v=${version}`, defer: true });
    script.addEventListener("load", () => resolve(window.classroomMermaid));
    script.addEventListener("error", () => reject(new Error("the diagram renderer did not load")));
    document.head.append(script);
  });
  return mermaidLoaded;
}

/** A Mermaid diagram drawn as SVG (web/src/diagrams.js); its source stays one click away. */
function renderMermaid(root, source) {
  const figure = h("figure", { class: "viz viz-mermaid", dataset: { state: "loading" } });
  const drawing = h("div", { class: "viz-diagram", role: "img", "aria-label": "Diagram" });
  figure.append(drawing, h("details", {}, h("summary", {}, "Diagram source (Mermaid)"), h("pre", {}, source)));
  clear(root, figure);
  loadMermaid()
    .then((renderer) => renderer.render(source))
    .then((svgText) => {
      drawing.innerHTML = svgText; // sanitized by DOMPurify in diagrams.js
      figure.dataset.state = "drawn";
    })
    .catch((error) => {
      drawing.textContent = `The diagram could not be drawn: ${error.message ?? error}`;
      figure.dataset.state = "failed";
    });
}

/** Draws `viz` ({kind, frames} or one frame) into `root`, with frame controls when there are several. */
export function renderVisualization(root, viz) {
  if (!viz) {
    clear(root);
    return;
  }
  if (viz.kind === "mermaid") {
    renderMermaid(root, viz.mermaid ?? "");
    return;
  }
  const frames = Array.isArray(viz.frames) ? viz.frames : [viz];
  if (frames.length === 0) {
    clear(root);
    return;
  }
  const kindOfAll = viz.frames ? (viz.kind ?? null) : null;
  let index = 0;
  const stage = h("div", { class: "viz-stage", "aria-live": "polite" });
  const counter = h("span", { class: "muted" });
  const show = () => {
    clear(stage, renderFrame(frames[index], kindOfAll));
    counter.textContent = `frame ${index + 1} of ${frames.length}`;
  };
  const step = (delta) => () => {
    index = Math.min(frames.length - 1, Math.max(0, index + delta));
    show();
  };
  const controls = frames.length > 1
    ? h("div", { class: "viz-controls" },
        h("button", { type: "button", class: "secondary", onclick: step(-1) }, "Previous frame"),
        counter,
        h("button", { type: "button", class: "secondary", onclick: step(1) }, "Next frame"))
    : null;
  clear(root, stage, controls);
  show();
}
