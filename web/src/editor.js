// CodeMirror 6 views bound to a Y.Text through y-codemirror.next (remote cursors and names
// come from awareness). The language lives in a compartment so the select can swap it.
import { basicSetup, minimalSetup } from "codemirror";
import { EditorState, Compartment, StateEffect, StateField, RangeSetBuilder } from "@codemirror/state";
import { EditorView, Decoration, keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";
import * as Y from "yjs";

const theme = EditorView.theme({
  "&": { fontSize: "var(--code-size, 15px)", height: "100%" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.45" },
  // Room above the first line for a remote caret's name label.
  ".cm-content": { caretColor: "#111", paddingTop: "16px" },
  "&.cm-focused": { outline: "2px solid var(--focus)" },
  ".cm-demo-highlight": { backgroundColor: "#fff3c4" },
  ".cm-ySelectionInfo": { opacity: "1", fontFamily: "var(--sans)", fontSize: "12px" },
});

// Lines a demo step highlights ([[start, end], ...], 1-based, inclusive). The ranges are kept
// and the decorations rebuilt on every change: the server rewrites the demo document when a
// code step comes on screen, before or after the step event reaches us.
const setHighlights = StateEffect.define();
const highlightLine = Decoration.line({ class: "cm-demo-highlight" });

function lineDecorations(doc, ranges) {
  const builder = new RangeSetBuilder();
  const wanted = new Set();
  for (const [start, end] of ranges) {
    for (let n = Math.max(1, start); n <= Math.min(doc.lines, end); n++) wanted.add(n);
  }
  for (const n of [...wanted].sort((a, b) => a - b)) builder.add(doc.line(n).from, doc.line(n).from, highlightLine);
  return builder.finish();
}

const highlights = StateField.define({
  create: () => ({ ranges: [], decorations: Decoration.none }),
  update(value, tr) {
    let { ranges } = value;
    for (const effect of tr.effects) if (effect.is(setHighlights)) ranges = effect.value;
    if (ranges === value.ranges && !tr.docChanged) return value;
    return { ranges, decorations: lineDecorations(tr.state.doc, ranges) };
  },
  provide: (field) => EditorView.decorations.from(field, (value) => value.decorations),
});

/**
 * An editor in `parent` bound to `ytext`. Options: `awareness` (cursors; omit for a quiet
 * preview), `language` (an entry of LANGUAGES), `readOnly`, `compact` (no gutters: grid tiles),
 * `label` (accessible name). Returns {view, setLanguage(lang), setReadOnly(bool), destroy()}.
 */
export function createEditor(parent, ytext, options = {}) {
  const { awareness = null, language = null, readOnly = false, compact = false, label = "Code" } = options;
  const languageSlot = new Compartment();
  const editableSlot = new Compartment();
  const undoManager = new Y.UndoManager(ytext);
  const editable = (flag) => [EditorState.readOnly.of(!flag), EditorView.editable.of(flag)];
  const state = EditorState.create({
    doc: ytext.toString(),
    extensions: [
      // Before the setup so Mod-z undoes only this user's edits (Y.UndoManager), not remote ones.
      keymap.of([...yUndoManagerKeymap, indentWithTab]),
      compact ? minimalSetup : basicSetup,
      // A small read-only view (a grid tile, the demo beside the task) wraps long lines
      // rather than scrolling sideways: it has no caret to scroll with.
      compact ? EditorView.lineWrapping : [],
      theme,
      languageSlot.of(language ? language.support() : []),
      editableSlot.of(editable(!readOnly)),
      EditorView.contentAttributes.of({ "aria-label": label }),
      highlights,
      yCollab(ytext, awareness, { undoManager }),
    ],
  });
  const view = new EditorView({ state, parent });
  return {
    view,
    setLanguage(lang) {
      view.dispatch({ effects: languageSlot.reconfigure(lang.support()) });
    },
    /** Highlight lines: `ranges` is [[start, end], ...] (1-based, inclusive); [] clears. */
    highlight(ranges) {
      view.dispatch({ effects: setHighlights.of(ranges) });
    },
    setReadOnly(flag) {
      view.dispatch({ effects: editableSlot.reconfigure(editable(!flag)) });
    },
    destroy() {
      view.destroy();
      undoManager.destroy();
    },
  };
}
