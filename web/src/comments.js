// Inline comments on a student's file: a gutter marker on each commented line and a thread
// list beside the editor, to reply or resolve. A comment is anchored by a Yjs relative
// position (encoded, base64) of its line's start, so it stays on its line while the code
// around it changes; the line number sent along is only a fallback.
import { StateEffect, StateField, RangeSet } from "@codemirror/state";
import { gutter, GutterMarker } from "@codemirror/view";
import * as Y from "yjs";
import { h, clear } from "./dom.js";
import { api } from "./api.js";
import { toast } from "./toasts.js";

const setMarks = StateEffect.define();

class CommentMarker extends GutterMarker {
  constructor(count) {
    super();
    this.count = count;
  }

  eq(other) {
    return other.count === this.count;
  }

  toDOM() {
    return h("span", { class: "comment-mark", title: `${this.count} comment${this.count > 1 ? "s" : ""}` }, "●");
  }
}

const marks = StateField.define({
  create: () => RangeSet.empty,
  update(value, tr) {
    value = value.map(tr.changes);
    for (const effect of tr.effects) if (effect.is(setMarks)) value = effect.value;
    return value;
  },
});

const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** The encoded anchor of the start of `line` (1-based) in `ytext`. */
export function anchorOf(ytext, view, line) {
  const at = view.state.doc.line(line).from;
  return toBase64(Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(ytext, at)));
}

/** The line (1-based) an anchor points at now, or the fallback `line`. */
export function lineOf(anchor, ydoc, view, line) {
  if (anchor) {
    try {
      const abs = Y.createAbsolutePositionFromRelativePosition(Y.decodeRelativePosition(fromBase64(anchor)), ydoc);
      if (abs) return view.state.doc.lineAt(Math.min(abs.index, view.state.doc.length)).number;
    } catch (error) {
      console.warn("unreadable comment anchor", error);
    }
  }
  return Math.min(Math.max(1, line ?? 1), view.state.doc.lines);
}

export class CommentsPanel {
  constructor(root, { roomId, events }) {
    Object.assign(this, { root, roomId });
    this.comments = [];
    this.list = h("ol", { class: "comment-list", "data-testid": "comments" });
    this.input = h("textarea", { id: "comment-body", rows: 2, maxlength: 2000 });
    this.form = h("form", { class: "stack", onsubmit: (event) => { event.preventDefault(); this.add(); } },
      h("label", { for: "comment-body" }, "Comment on the cursor's line"), this.input,
      h("button", { type: "submit", class: "secondary" }, "Comment"));
    clear(root, h("header", { class: "panel-head" }, h("h2", {}, "Comments")), this.list, this.form);
    events
      .on("comment.added", (m) => m.comment.doc === this.doc && this.merge(m.comment))
      .on("comment.resolved", (m) => m.comment.doc === this.doc && this.merge(m.comment));
  }

  /** Follow the editor of `docName` (its view, Y.Doc and Y.Text). */
  async attach(docName, editor, session) {
    this.doc = docName;
    this.editor = editor;
    this.session = session;
    this.root.hidden = !docName.startsWith("students/") && !docName.startsWith("pairs/");
    if (this.root.hidden) return;
    editor.view.dispatch({ effects: StateEffect.appendConfig.of([marks, gutter({ class: "cm-comment-gutter", markers: (v) => v.state.field(marks) })]) });
    // Edits move lines: re-place the markers from the anchors, once the editor has applied
    // the change (a Y.Text observer runs inside CodeMirror's own update when we typed it).
    session.ytext.observe(() => {
      if (this.placing) return;
      this.placing = true;
      requestAnimationFrame(() => { this.placing = false; this.place(); });
    });
    try {
      const data = await api("GET", `/api/rooms/${this.roomId}/comments?doc=${encodeURIComponent(docName)}`);
      this.comments = data.comments;
    } catch (error) {
      this.comments = [];
      console.warn("comments unavailable", error);
    }
    this.render();
  }

  merge(comment) {
    const at = this.comments.findIndex((c) => c.id === comment.id);
    if (at >= 0) this.comments[at] = comment;
    else this.comments.push(comment);
    this.render();
  }

  place() {
    const view = this.editor?.view;
    if (!view) return;
    const counts = new Map();
    for (const c of this.comments) {
      if (c.parent_id !== null || c.resolved_at) continue;
      const n = lineOf(c.anchor, this.session.ydoc, view, c.line);
      counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    const ranges = [...counts.keys()].sort((a, b) => a - b).map((n) => new CommentMarker(counts.get(n)).range(view.state.doc.line(n).from));
    view.dispatch({ effects: setMarks.of(RangeSet.of(ranges)) });
  }

  render() {
    const view = this.editor.view;
    const roots = this.comments.filter((c) => c.parent_id === null);
    clear(this.list, roots.length ? roots.map((c) => {
      const replies = this.comments.filter((r) => r.parent_id === c.id);
      const reply = h("input", { "aria-label": `Reply to ${c.author.name}`, maxlength: 2000 });
      return h("li", { class: `comment${c.resolved_at ? " resolved" : ""}`, dataset: { id: c.id } },
        h("p", {}, h("strong", {}, c.author.name), ` on line ${lineOf(c.anchor, this.session.ydoc, view, c.line)}: `, c.body),
        replies.map((r) => h("p", { class: "reply" }, h("strong", {}, r.author.name), `: ${r.body}`)),
        c.resolved_at ? h("p", { class: "muted" }, "Resolved") : h("form", { class: "row", onsubmit: (event) => { event.preventDefault(); this.add(reply.value, c.id); reply.value = ""; } },
          reply, h("button", { type: "submit", class: "secondary small" }, "Reply"),
          h("button", { type: "button", class: "secondary small", onclick: () => this.resolve(c.id) }, "Resolve")));
    }) : h("li", { class: "muted" }, "No comments."));
    this.place();
  }

  async add(text = this.input.value.trim(), parent = null) {
    if (!text) return;
    const view = this.editor.view;
    const line = view.state.doc.lineAt(view.state.selection.main.head).number;
    try {
      const made = await api("POST", `/api/rooms/${this.roomId}/comments`, {
        doc: this.doc, body: text, anchor: anchorOf(this.session.ytext, view, line), line, parent_id: parent,
      });
      this.merge(made);
      if (parent === null) this.input.value = "";
    } catch (error) {
      toast("Comment not saved", error.message, "error");
    }
  }

  async resolve(id) {
    try {
      this.merge(await api("POST", `/api/rooms/${this.roomId}/comments/${id}/resolve`));
    } catch (error) {
      toast("Could not resolve", error.message, "error");
    }
  }
}
