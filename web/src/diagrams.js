// The Mermaid bundle (web/static/mermaid.js), built apart from app.js and loaded only by a page
// that shows a diagram: Mermaid is larger than the rest of the client together.
//
// A diagram comes from a course file, and a shared course may come from anyone, so it must not
// run script: securityLevel "strict" (labels are text, no click handlers, no links to
// javascript:), no HTML labels (no foreignObject), and the SVG Mermaid returns goes through
// DOMPurify's SVG profile before it enters the page; the page's CSP allows scripts only from
// our origin in any case.
import mermaid from "mermaid";
import DOMPurify from "dompurify";

mermaid.initialize({
  startOnLoad: false,
  securityLevel: "strict",
  htmlLabels: false,
  flowchart: { htmlLabels: false },
  theme: "neutral",
});

let counter = 0;

async function render(source) {
  counter += 1;
  const { svg } = await mermaid.render(`classroom-diagram-${counter}`, String(source));
  return DOMPurify.sanitize(svg, {
    USE_PROFILES: { svg: true, svgFilters: true },
    ADD_TAGS: ["style"],
    FORBID_TAGS: ["script", "foreignObject", "a"],
    FORBID_ATTR: ["href", "xlink:href"],
  });
}

window.classroomMermaid = { render };
