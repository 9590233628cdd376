// The exercise panel: pick an exercise, read its prompt, submit the open document over the
// room socket (`submit`), and see each test's result when `grade.result` comes back (the
// shape of Gradescope's results.json: score, max_score, tests[name, status, score, output]).
import { h, clear } from "./dom.js";
import { api } from "./api.js";
import { renderMarkdown } from "./markdown.js";
import { toast } from "./toasts.js";

let refs = 0;

export class ExercisePanel {
  /**
   * `send` sends a room command; `currentDoc()` names the document to submit; `onPick(exercise)`
   * may switch the language and load the starter code.
   */
  constructor(root, { classroom, send, currentDoc, onPick = () => {} }) {
    this.send = send;
    this.classroom = classroom;
    this.currentDoc = currentDoc;
    this.onPick = onPick;
    this.exercises = [];
    this.current = null;
    this.pending = null;
    this.select = h("select", { id: "exercise-select" });
    this.select.addEventListener("change", () => this.pick(this.select.value));
    this.prompt = h("div", { class: "markdown", "data-testid": "exercise-prompt" });
    this.submitButton = h("button", { type: "button", disabled: true, onclick: () => this.submit() }, "Submit");
    this.results = h("div", { class: "results", "aria-live": "polite", "data-testid": "exercise-results" });
    clear(root,
      h("header", { class: "panel-head" }, h("h2", { id: "exercise-title" }, "Exercise")),
      h("div", { class: "row" }, h("label", { for: "exercise-select" }, "Choose"), this.select, this.submitButton),
      this.prompt, this.results);
    this.loaded = this.load(classroom);
  }

  async load(classroom) {
    if (classroom === null || classroom === undefined) return;
    try {
      const data = await api("GET", `/api/classrooms/${classroom}/exercises`);
      this.exercises = Array.isArray(data) ? data : (data?.exercises ?? []);
    } catch (error) {
      clear(this.prompt, h("p", { class: "muted" }, `Exercises unavailable: ${error.message}`));
      return;
    }
    clear(this.select, h("option", { value: "" }, this.exercises.length ? "Choose…" : "None yet"),
      this.exercises.map((ex) => h("option", { value: String(ex.id) }, ex.title ?? String(ex.id))));
  }

  /** Shows the exercise a demo step or exercise.opened points at, unless it is already open. */
  async show(id) {
    await this.loaded;
    const lookup = () => this.exercises.find((ex) => String(ex.id) === String(id));
    // Imported after this page loaded: fetch the list again.
    if (!lookup()) await (this.loaded = this.load(this.classroom));
    const found = lookup();
    if (!found || this.current === found) return;
    this.select.value = String(found.id);
    this.pick(found.id);
  }

  pick(id) {
    this.current = this.exercises.find((ex) => String(ex.id) === String(id)) ?? null;
    this.submitButton.disabled = this.current === null;
    clear(this.results);
    if (!this.current) {
      clear(this.prompt);
      return;
    }
    const due = this.current.due ? h("p", { class: "muted" }, `Due ${new Date(this.current.due).toLocaleString()}`) : null;
    clear(this.prompt, h("div"), due);
    renderMarkdown(this.prompt.firstChild, this.current.prompt ?? "");
    this.onPick(this.current);
  }

  submit() {
    if (!this.current) return;
    this.pending = `submit-${++refs}`;
    const sent = this.send({ type: "submit", exercise_id: String(this.current.id), doc: this.currentDoc(), ref: this.pending });
    if (!sent) {
      this.pending = null;
      clear(this.results, h("p", { class: "error", role: "alert" }, "Not connected: try again in a moment."));
      return;
    }
    this.submitButton.disabled = true;
    clear(this.results, h("p", { role: "status" }, "Submitting…"));
  }

  /** submission.accepted {submission_id, exercise_id, attempt, ref}. */
  accepted(message) {
    if (message.ref !== this.pending) return;
    this.submissionId = message.submission_id;
    clear(this.results, h("p", { role: "status" }, `Grading attempt ${message.attempt}…`));
  }

  /** An `error` event: true when it answers our submission (and was shown). */
  refused(message) {
    if (message.ref === undefined || message.ref !== this.pending) return false;
    this.pending = null;
    this.submitButton.disabled = false;
    clear(this.results, h("p", { class: "error", role: "alert" }, message.message ?? "The submission was refused."));
    return true;
  }

  /** grade.result {submission: {id, exercise_id, status, score, max_score, error, results}}. */
  graded(message) {
    const submission = message.submission ?? message;
    if (this.submissionId !== undefined && submission.id !== this.submissionId) return;
    this.pending = null;
    this.submitButton.disabled = this.current === null;
    if (submission.status === "error") {
      clear(this.results, h("p", { class: "error", role: "alert" }, `Grading failed: ${submission.error ?? "unknown error"}`));
      return;
    }
    const results = submission.results ?? submission;
    const tests = results.tests ?? [];
    const passed = tests.filter((t) => t.status === "passed").length;
    const list = h("ul", { class: "tests" }, tests.map((t) => {
      const ok = t.status === "passed";
      return h("li", { class: `test ${ok ? "passed" : "failed"}` },
        h("span", { class: "mark", "aria-hidden": "true" }, ok ? "✔" : "✘"),
        h("span", {}, ` ${t.name ?? "test"}: ${t.status ?? (ok ? "passed" : "failed")}`),
        t.max_score !== undefined ? h("span", { class: "muted" }, ` (${t.score ?? 0}/${t.max_score})`) : null,
        t.output && !ok ? h("pre", { class: "test-output" }, t.output) : null);
    }));
    clear(this.results,
      h("p", { class: "score", "data-testid": "grade-score" },
        `Score ${fmt(submission.score ?? results.score)} / ${fmt(submission.max_score ?? results.max_score)} — ${passed} of ${tests.length} tests passed`),
      list);
    if (tests.length && passed === tests.length) toast("All tests pass", this.current?.title ?? "", "good");
  }
}

function fmt(value) {
  return typeof value === "number" ? String(Math.round(value * 100) / 100) : "0";
}
