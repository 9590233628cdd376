// Markdown from demo steps and exercise prompts, rendered with marked and sanitised with
// DOMPurify: course files are written by instructors, but a shared course may come from anyone.
import { marked } from "marked";
import DOMPurify from "dompurify";

marked.setOptions({ gfm: true, breaks: false });

// Course assets (assets/… in a course archive) are served by the classroom:
// /api/classrooms/{id}/assets/…; an image link to audio or video becomes a player.
let assetBase = null;
const VIDEO = /\.(mp4|webm)$/i;
const AUDIO = /\.(mp3|wav|ogg)$/i;

export function setAssetBase(classroomId) {
  assetBase = classroomId === undefined || classroomId === null ? null : `/api/classrooms/${encodeURIComponent(classroomId)}/`;
}

function linkAssets(el) {
  if (assetBase === null) return;
  for (const img of el.querySelectorAll("img[src^='assets/']")) {
    const src = assetBase + img.getAttribute("src");
    const name = img.getAttribute("src");
    if (VIDEO.test(name) || AUDIO.test(name)) {
      const player = document.createElement(VIDEO.test(name) ? "video" : "audio");
      player.controls = true;
      player.preload = "metadata";
      player.src = src;
      player.setAttribute("aria-label", img.getAttribute("alt") || name);
      img.replaceWith(player);
    } else {
      img.src = src;
      img.loading = "lazy";
    }
  }
}

export function renderMarkdown(el, source) {
  const html = marked.parse(String(source ?? ""), { async: false });
  el.innerHTML = DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
  linkAssets(el);
  // Links in lesson text open elsewhere so the live room is never navigated away from.
  for (const link of el.querySelectorAll("a[href]")) {
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  return el;
}
