// The exercise panel: pick an exercise, read its prompt, submit the open document over the
// room socket (`submit`), and see the result when `grade.result` comes back (the shape of
// Gradescope's results.json, rendered by feedback.js). Before a submission that would only
// cost points (the same code as the last one under an attempt penalty) it asks first; a rate
// limit counts down beside the results instead of replacing them.
import { h, clear } from "./dom.js";
import { api } from "./api.js";
import { renderMarkdown } from "./markdown.js";
import { renderResults } from "./feedback.js";
import { toast } from "./toasts.js";

let refs = 0;

/** A short fingerprint of a text (FNV-1a), to notice an identical resubmission. */
export function fingerprint(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${text.length}:${hash.toString(16)}`;
}

/** The percent attempt `n` (from 1) loses under `regime` (the last value repeats). */
export function attemptPenalty(regime, n) {
  if (!Array.isArray(regime) || regime.length === 0 || n < 1) return 0;
  return regime[Math.min(n, regime.length) - 1] ?? 0;
}

export class ExercisePanel {
  /**
   * `send` sends a room command; `currentDoc()` names the document to submit and
   * `currentText()` reads it; `onPick(exercise)` opens the exercise's file.
   */
  constructor(root, { classroom, room, me, send, currentDoc, currentText = () => "", onPick = () => {} }) {
    Object.assign(this, { send, classroom, room, me, currentDoc, currentText, onPick });
    this.exercises = [];
    this.current = null;
    this.pending = null;
    this.attempts = new Map();
    this.select = h("select", { id: "exercise-select" });
    this.select.addEventListener("change", () => this.pick(this.select.value));
    this.prompt = h("div", { class: "markdown", "data-testid": "exercise-prompt" });
    this.fileNote = h("p", { class: "muted", "data-testid": "exercise-file" });
    this.submitButton = h("button", { type: "button", disabled: true, onclick: () => this.submit() }, "Submit");
    this.nextNote = h("p", { class: "penalty-note", "data-testid": "next-attempt", hidden: true });
    this.confirmBox = h("div", { class: "confirm", role: "alertdialog", "aria-label": "Submit the same code again?", hidden: true });
    this.countdown = h("p", { class: "countdown", role: "status", "data-testid": "rate-limit", hidden: true });
    this.results = h("div", { class: "results", "aria-live": "polite", "data-testid": "exercise-results" });
    clear(root,
      h("header", { class: "panel-head" }, h("h2", { id: "exercise-title" }, "Exercise")),
      h("div", { class: "row" }, h("label", { for: "exercise-select" }, "Choose"), this.select, this.submitButton),
      this.fileNote, this.nextNote, this.confirmBox, this.countdown, this.prompt, this.results);
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
    if (this.current) this.select.value = String(this.current.id);
  }

  /** How many times this student submitted each exercise in this room (for the penalty note). */
  async loadAttempts() {
    if (this.room === undefined || this.attemptsLoaded) return;
    this.attemptsLoaded = true;
    const { submissions = [] } = await api("GET", `/api/rooms/${this.room}/submissions`).catch(() => ({}));
    for (const s of submissions) {
      if (String(s.user_id) !== String(this.me)) continue;
      this.attempts.set(s.exercise_id, Math.max(this.attempts.get(s.exercise_id) ?? 0, s.attempt ?? 0));
    }
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
    await this.pick(found.id);
  }

  async pick(id) {
    this.current = this.exercises.find((ex) => String(ex.id) === String(id)) ?? null;
    this.submitButton.disabled = this.current === null || this.limited;
    this.confirmBox.hidden = true;
    clear(this.results);
    if (!this.current) {
      clear(this.prompt);
      this.fileNote.textContent = "";
      this.nextNote.hidden = true;
      return;
    }
    const due = this.current.due ? h("p", { class: "muted" }, `Due ${new Date(this.current.due).toLocaleString()}`) : null;
    clear(this.prompt, h("div"), due);
    renderMarkdown(this.prompt.firstChild, this.current.prompt ?? "");
    this.onPick(this.current);
    await this.loadAttempts();
    this.showNext();
  }

  /** The file the exercise is done in (set by the page once it opened it). */
  showFile(file, languageLabel) {
    this.fileNote.textContent = `Your file for this exercise: ${file}${languageLabel ? ` (${languageLabel})` : ""}`;
  }

  showNext() {
    if (!this.current) return;
    const done = this.attempts.get(this.current.id) ?? 0;
    const percent = attemptPenalty(this.current.attempt_penalties, done + 1);
    this.nextNote.hidden = percent <= 0;
    this.nextNote.textContent = `Your next submission is attempt ${done + 1}: it loses ${percent}% of its score (attempt penalty).`;
  }

  submit(confirmed = false) {
    if (!this.current || this.limited) return;
    const ex = this.current;
    const text = this.currentText();
    const done = this.attempts.get(ex.id) ?? 0;
    const key = `submitted:${this.room}:${this.me}:${ex.id}`;
    if (!confirmed && done > 0 && localStorage.getItem(key) === fingerprint(text)) {
      const percent = attemptPenalty(ex.attempt_penalties, done + 1);
      clear(this.confirmBox,
        h("p", {}, h("strong", {}, "This is the same code as your last submission. "),
          `Submitting it again counts as attempt ${done + 1}`, percent > 0 ? ` and loses ${percent}% of its score.` : ". It cannot score more."),
        h("div", { class: "row" },
          h("button", { type: "button", onclick: () => this.submit(true) }, "Submit anyway"),
          h("button", { type: "button", class: "secondary", onclick: () => { this.confirmBox.hidden = true; } }, "Keep editing")));
      this.confirmBox.hidden = false;
      this.confirmBox.querySelector("button.secondary").focus();
      return;
    }
    this.confirmBox.hidden = true;
    this.pending = `submit-${++refs}`;
    this.pendingKey = key;
    this.pendingPrint = fingerprint(text);
    const sent = this.send({ type: "submit", exercise_id: String(ex.id), doc: this.currentDoc(), ref: this.pending });
    if (!sent) {
      this.pending = null;
      clear(this.results, h("p", { class: "error", role: "alert" }, "Not connected: try again in a moment."));
      return;
    }
    this.submitButton.disabled = true;
    this.status = h("p", { role: "status" }, "Submitting…");
    this.results.prepend(this.status);
  }

  /** submission.accepted {submission_id, exercise_id, attempt, ref}. */
  accepted(message) {
    if (message.ref !== this.pending) return;
    this.submissionId = message.submission_id;
    localStorage.setItem(this.pendingKey, this.pendingPrint);
    this.attempts.set(message.exercise_id, message.attempt);
    this.showNext();
    if (this.status) this.status.textContent = `Grading attempt ${message.attempt}…`;
  }

  /** An `error` event: true when it answers our submission (and was shown). */
  refused(message) {
    if (message.ref === undefined || message.ref !== this.pending) return false;
    this.pending = null;
    this.status?.remove();
    const wait = message.code === "rate_limited" ? /(\d+)\s*s\b/.exec(message.message ?? "") : null;
    if (wait) {
      this.startCountdown(Number(wait[1]));
      return true;
    }
    this.submitButton.disabled = false;
    this.results.prepend(h("p", { class: "error", role: "alert" }, message.message ?? "The submission was refused."));
    return true;
  }

  /** Too many submissions: the results stay; a line counts down to the next allowed one. */
  startCountdown(seconds) {
    clearInterval(this.timer);
    this.limited = true;
    this.submitButton.disabled = true;
    const end = Date.now() + seconds * 1000;
    const tick = () => {
      const left = Math.ceil((end - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(this.timer);
        this.limited = false;
        this.countdown.hidden = true;
        this.submitButton.disabled = this.current === null;
        return;
      }
      this.countdown.hidden = false;
      this.countdown.textContent = `Too many submissions in a short time: you can submit again in ${left} s.`;
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  /** grade.result {submission: {id, exercise_id, status, score, max_score, error, results}}. */
  graded(message) {
    const submission = message.submission ?? message;
    if (this.submissionId !== undefined && submission.id !== this.submissionId) return;
    this.pending = null;
    this.submitButton.disabled = this.current === null || this.limited;
    if (submission.status === "error") {
      clear(this.results, h("p", { class: "error", role: "alert" }, `Grading failed: ${submission.error ?? "unknown error"}`));
      return;
    }
    clear(this.results, renderResults(submission));
    const tests = (submission.results ?? submission).tests ?? [];
    if (tests.length && tests.every((t) => t.status === "passed")) toast("All tests pass", this.current?.title ?? "", "good", 4000);
  }
}
