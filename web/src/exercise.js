// The exercise panel: pick an exercise, read its prompt, submit the open document, see each
// test's result (shape of Gradescope's results.json: score, max_score, tests[]).
import { h, clear } from "./dom.js";
import { api } from "./api.js";
import { renderMarkdown } from "./markdown.js";
import { toast } from "./toasts.js";

const TEST_STATUS = { passed: "passed", failed: "failed" };

export class ExercisePanel {
  /** `currentDoc()` names the document to submit; `onPick(exercise)` may load starter code. */
  constructor(root, { room, classroom, currentDoc, onPick = () => {} }) {
    this.room = room;
    this.currentDoc = currentDoc;
    this.onPick = onPick;
    this.exercises = [];
    this.current = null;
    this.select = h("select", { id: "exercise-select" });
    this.select.addEventListener("change", () => this.pick(this.select.value));
    this.prompt = h("div", { class: "markdown", "data-testid": "exercise-prompt" });
    this.submitButton = h("button", { type: "button", disabled: true, onclick: () => this.submit() }, "Submit");
    this.results = h("div", { class: "results", "aria-live": "polite", "data-testid": "exercise-results" });
    clear(root,
      h("header", { class: "panel-head" }, h("h2", {}, "Exercise")),
      h("div", { class: "row" }, h("label", { for: "exercise-select" }, "Exercise"), this.select, this.submitButton),
      this.prompt, this.results);
    this.load(classroom);
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
      this.exercises.map((ex) => h("option", { value: String(ex.id) }, ex.title ?? ex.slug ?? `#${ex.id}`)));
  }

  /** Shows the exercise a demo step points at (by id or slug) unless one is already open. */
  show(ref) {
    const found = this.exercises.find((ex) => String(ex.id) === String(ref) || ex.slug === ref);
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
    renderMarkdown(this.prompt, this.current.prompt ?? this.current.description ?? "");
    this.onPick(this.current);
  }

  async submit() {
    if (!this.current) return;
    this.submitButton.disabled = true;
    clear(this.results, h("p", { role: "status" }, "Grading…"));
    try {
      const grade = await api("POST", `/api/rooms/${this.room}/exercises/${this.current.id}/submissions`, { doc: this.currentDoc() });
      if (grade && (grade.tests || grade.score !== undefined)) this.showResult(grade);
    } catch (error) {
      clear(this.results, h("p", { class: "error", role: "alert" }, error.message));
    } finally {
      this.submitButton.disabled = false;
    }
  }

  /** A grade (from the submission answer or a grade.result event). */
  showResult(grade) {
    const result = grade.result ?? grade;
    if (this.current && grade.exercise_id !== undefined && String(grade.exercise_id) !== String(this.current.id)) return;
    const tests = result.tests ?? [];
    const passed = tests.filter((t) => (t.status ?? (t.score >= t.max_score ? "passed" : "failed")) === "passed").length;
    const list = h("ul", { class: "tests" }, tests.map((t) => {
      const status = TEST_STATUS[t.status] ?? (t.score >= t.max_score ? "passed" : "failed");
      return h("li", { class: `test ${status}` },
        h("span", { class: "mark", "aria-hidden": "true" }, status === "passed" ? "✔" : "✘"),
        h("span", {}, `${t.name ?? "test"}: ${status}`),
        t.score !== undefined ? h("span", { class: "muted" }, ` (${t.score}/${t.max_score})`) : null,
        t.output ? h("pre", { class: "test-output" }, t.output) : null);
    }));
    clear(this.results,
      h("p", { class: "score", "data-testid": "grade-score" }, `Score ${result.score ?? 0} / ${result.max_score ?? 0} — ${passed} of ${tests.length} tests passed`),
      list);
    if (tests.length && passed === tests.length) toast("All tests pass", this.current?.title ?? "", "good");
  }
}
