// Markdown from demo steps and exercise prompts, rendered with marked and sanitised with
// DOMPurify: course files are written by instructors, but a shared course may come from anyone.
import { marked } from "marked";
import DOMPurify from "dompurify";

marked.setOptions({ gfm: true, breaks: false });

export function renderMarkdown(el, source) {
  const html = marked.parse(String(source ?? ""), { async: false });
  el.innerHTML = DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
  // Links in lesson text open elsewhere so the live room is never navigated away from.
  for (const link of el.querySelectorAll("a[href]")) {
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  return el;
}
