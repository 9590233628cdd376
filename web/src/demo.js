// The demo panel: the current step's Markdown, the instructor's read-only demo document, the
// step's visualization and quiz. A student follows the instructor by default; "Detach" keeps
// the panel on the current step while the class moves on, "Follow" jumps back.
import { h, clear } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { renderVisualization } from "./viz.js";

export class DemoPanel {
  /** `send` sends a room command; `isInstructor` shows the step controls. */
  /**
   * Options: `send`, `isInstructor`, `demos` (the picker's list), `controlsRoot` (where the
   * instructor's demo and quiz controls go: the dashboard's lesson bar; default the panel),
   * `quizControlsRoot`, `onExercise(id)`, `onCodeLanguage(language)`, `onHighlight(ranges)`.
   */
  constructor(root, { send, isInstructor, demos = [], controlsRoot = null, quizControlsRoot = null, onExercise = null, onCodeLanguage = null, onHighlight = null }) {
    this.root = root;
    this.send = send;
    this.quizControlsRoot = quizControlsRoot;
    this.onHighlight = onHighlight;
    this.onExercise = onExercise;
    this.onCodeLanguage = onCodeLanguage;
    this.isInstructor = isInstructor;
    this.following = true;
    this.latest = null;
    this.shown = null;
    this.title = h("h2", { id: "demo-title" }, "Demo");
    this.position = h("p", { class: "muted", "data-testid": "demo-position" }, "No demo running.");
    this.markdown = h("div", { class: "markdown", "data-testid": "demo-text", "aria-live": "polite" });
    this.viz = h("div", { class: "viz-host" });
    this.quiz = h("div", { class: "quiz" });
    this.check = h("p", { class: "check", role: "status", "data-testid": "demo-check" });
    this.follow = h("button", { type: "button", class: "secondary", onclick: () => this.toggleFollow(), hidden: true }, "Detach");
    this.controls = h("div", { class: "demo-controls" });
    this.followInfo = h("p", { class: "muted", "aria-live": "polite" });
    this.clock = h("span", { class: "badge", "aria-live": "polite" });
    if (isInstructor) this.buildControls(demos);
    if (controlsRoot) controlsRoot.append(this.controls);
    this.codeHost = h("div", { class: "demo-code", hidden: true });
    this.copyButton = h("button", { type: "button", class: "secondary", hidden: true }, "Copy into my file");
    clear(root, h("header", { class: "panel-head" }, this.title, this.clock, this.follow), this.position, controlsRoot ? null : this.controls, this.followInfo,
      this.markdown, this.check, this.codeHost, this.copyButton, this.viz, this.quiz);
    this.syncControls();
  }

  /** Controls that cannot act are disabled: Previous on the first step, Next on the last,
   * Previous/Next/Stop with no demo running; the picker shows the demo that runs. */
  syncControls() {
    const running = this.latest;
    if (this.root) this.root.dataset.idle = String(!running && !(this.hasCode && this.codeHasText));
    if (!this.buttons) return;
    const index = running ? indexOf(running) : 0;
    const total = running?.total ?? 0;
    this.buttons.prev.disabled = !running || index <= 0;
    this.buttons.next.disabled = !running || (total > 0 && index >= total - 1);
    this.buttons.stop.disabled = !running;
    if (running?.demo_id !== undefined && [...this.picker.options].some((o) => o.value === String(running.demo_id))) {
      this.picker.value = String(running.demo_id);
    }
    this.buttons.start.textContent = running ? "Restart" : "Start";
    this.buttons.start.disabled = this.picker.options.length === 0;
  }

  buildControls(demos) {
    const select = h("select", { id: "demo-select" }, demos.map((d) => h("option", { value: d.id }, d.title)));
    this.picker = select;
    const button = (label, onclick, attrs = {}) => h("button", { type: "button", class: "secondary", onclick, ...attrs }, label);
    this.buttons = {
      start: button("Start", () => this.send({ type: "demo.start", demo_id: demos.find((d) => String(d.id) === select.value)?.id ?? select.value }), { disabled: demos.length === 0 }),
      prev: button("Previous step", () => this.send({ type: "demo.prev" }), { "aria-keyshortcuts": "Alt+ArrowLeft" }),
      next: button("Next step", () => this.send({ type: "demo.next" }), { "aria-keyshortcuts": "Alt+ArrowRight" }),
      stop: button("Stop demo", () => this.send({ type: "demo.stop" })),
    };
    clear(this.controls,
      h("label", { for: "demo-select" }, "Choose a demo"), select,
      this.buttons.start, this.buttons.prev, this.buttons.next,
      this.resumeButton = button("Resume", () => this.send({ type: "demo.resume" }), { hidden: true }),
      this.buttons.stop);
    document.addEventListener("keydown", (event) => {
      if (!event.altKey) return;
      if (event.key === "ArrowRight") this.send({ type: "demo.next" });
      else if (event.key === "ArrowLeft") this.send({ type: "demo.prev" });
    });
  }

  /** Attaches the read-only editor of the `demo` document (built by the page). */
  showCode(mount, copy = null) {
    this.hasCode = true;
    mount(this.codeHost);
    if (copy) this.copyButton.addEventListener("click", copy);
    this.canCopy = copy !== null;
  }

  /** The demo document is shown whenever it holds code: a demo's code step, or the
   * instructor live coding without a prepared demo. `hasText` comes from the page watching it. */
  showCodeHost(hasText = this.codeHasText) {
    this.codeHasText = hasText;
    const visible = Boolean(this.hasCode && hasText);
    this.codeHost.hidden = !visible;
    this.copyButton.hidden = !(visible && this.canCopy && hasText);
    if (!this.latest && this.hasCode) this.position.textContent = hasText ? "Live code from your instructor:" : "No demo running.";
    if (this.root) this.root.dataset.idle = String(!this.latest && !visible);
  }

  /** Demo state from room.snapshot (`demo` may be null) or a demo.step event. */
  update(demo) {
    this.latest = demo && demo.step !== undefined && demo.step !== null ? demo : null;
    // A late joiner who had detached comes back detached (room.snapshot says so).
    if (this.latest && demo.following === false && this.following) this.setFollowing(false);
    if (!this.latest) {
      this.shown = null;
      this.follow.hidden = true;
      this.position.textContent = "No demo running.";
      this.showCodeHost();
      for (const el of [this.markdown, this.viz, this.quiz, this.check]) clear(el);
      if (this.quizControlsRoot) clear(this.quizControlsRoot);
      this.syncControls();
      return;
    }
    this.syncControls();
    this.showCodeHost();
    this.follow.hidden = this.isInstructor;
    if (this.following || this.shown === null) this.render(this.latest);
    else this.position.textContent = `Detached at step ${indexOf(this.shown) + 1}; the class is at step ${indexOf(this.latest) + 1}.`;
  }

  /** A step is {id, type, title, content}; content by type: text, code, visualization, quiz, exercise. */
  render(demo) {
    this.shown = demo;
    this.paused(Boolean(demo.timing?.paused));
    const step = typeof demo.step === "object" ? demo.step : (demo.content ? demo : {});
    const content = step.content ?? {};
    const index = indexOf(demo);
    const total = demo.total ?? demo.step_count ?? (Array.isArray(demo.steps) ? demo.steps.length : demo.steps);
    const demoTitle = demo.demo_title ?? demo.title;
    if (demoTitle) this.title.textContent = demoTitle;
    this.position.textContent = `Step ${index + 1}${total ? ` of ${total}` : ""}${step.title ? ` — ${step.title}` : ""}`;
    renderMarkdown(this.markdown, content.text ?? step.text ?? "");
    this.check.textContent = step.validation
      ? (this.isInstructor ? "Students complete this step by running their code." : `Run your ${step.validation.student_file ?? "code"} to check this step.`)
      : "";
    this.check.dataset.state = demo.completed ? "passed" : "";
    if (demo.completed && !this.isInstructor) this.check.textContent = "✔ Step complete.";
    renderVisualization(this.viz, step.type === "visualization" || content.frames ? content : null);
    if (demo.quiz) this.showQuiz(demo.quiz);
    else if (content.question !== undefined) this.showQuiz({ step: index, ...content });
    else {
      clear(this.quiz);
      this.quizButtons = null;
      if (this.quizControlsRoot) clear(this.quizControlsRoot);
    }
    if (demo.followers !== undefined && this.isInstructor) this.followers(demo);
    if (content.exercise && this.onExercise) this.onExercise(content.exercise);
    if (content.language && this.onCodeLanguage) this.onCodeLanguage(content.language);
    // The demo document shows a code step's first file; its highlighted lines follow the step.
    if (this.onHighlight) this.onHighlight(step.type === "code" ? (content.files?.[0]?.highlight ?? []) : []);
  }

  setFollowing(flag) {
    this.following = flag;
    this.follow.textContent = flag ? "Detach" : "Follow";
    this.follow.setAttribute("aria-pressed", String(!flag));
  }

  toggleFollow() {
    this.setFollowing(!this.following);
    this.send({ type: this.following ? "demo.follow" : "demo.detach" });
    if (this.following && this.latest) this.render(this.latest);
    else if (this.shown) this.position.textContent = `Detached at step ${indexOf(this.shown) + 1}.`;
  }

  /**
   * A quiz from quiz.opened, quiz.state or a quiz step's content: {step, kind: single|multiple|
   * short, question, choices: [text | {text}], state?, mine?, tally?, answer?}.
   */
  showQuiz(quiz) {
    const kind = quiz.kind ?? "single";
    const name = `quiz-${quiz.step}`;
    this.quizStep = quiz.step;
    this.quizOptions = (quiz.choices ?? []).map((c) => (typeof c === "object" ? c.text : c));
    const fields = kind === "short"
      ? [h("label", { for: `${name}-text` }, "Your answer"), h("input", { id: `${name}-text`, type: "text", name })]
      : this.quizOptions.map((text, i) => h("label", { class: "choice" },
          h("input", { type: kind === "multiple" ? "checkbox" : "radio", name, value: String(i) }), ` ${text}`));
    this.quizResult = h("p", { class: "muted", role: "status" });
    const form = h("form", { class: "quiz-form", onsubmit: (event) => {
      event.preventDefault();
      let answer;
      if (kind === "short") answer = form.querySelector("input[type=text]").value.trim();
      else if (kind === "multiple") answer = [...form.querySelectorAll("input:checked")].map((el) => Number(el.value));
      else answer = form.querySelector("input:checked") ? Number(form.querySelector("input:checked").value) : null;
      if (answer === null || answer === "" || (Array.isArray(answer) && answer.length === 0)) return;
      if (this.send({ type: "quiz.answer", step: quiz.step, answer })) clear(this.quizResult, "Answer sent.");
      else clear(this.quizResult, "Not connected; try again.");
    } },
      h("fieldset", {}, h("legend", {}, quiz.question ?? "Quick question"), fields),
      this.isInstructor ? null : h("button", { type: "submit" }, "Answer"));
    if (this.isInstructor) {
      const controls = h("div", { class: "row quiz-controls" },
        h("span", {}, "Quiz:"),
        h("button", { type: "button", class: "secondary", onclick: () => this.send({ type: "quiz.reveal", step: quiz.step }) }, "Show answers so far"),
        h("button", { type: "button", class: "secondary", onclick: () => this.send({ type: "quiz.close", step: quiz.step }) }, "Close quiz"));
      this.quizButtons = controls;
      if (this.quizControlsRoot) clear(this.quizControlsRoot, controls);
      else form.append(controls);
    }
    this.tally = h("div", { class: "tally", "data-testid": "quiz-tally" });
    clear(this.quiz, form, this.quizResult, this.tally);
    if (quiz.mine !== undefined && quiz.mine !== null) clear(this.quizResult, "You have answered.");
    if (quiz.tally) this.showTally(quiz.tally);
    if (quiz.state === "closed") this.closeQuiz(quiz);
  }

  /** quiz.tally {step, answers, counts? | correct?}. */
  showTally(message) {
    if (!this.tally || (message.step !== undefined && message.step !== this.quizStep)) return;
    if (Array.isArray(message.counts)) renderTally(this.tally, this.quizOptions ?? [], message.counts);
    else clear(this.tally, h("p", {}, `${message.answers ?? 0} answers, ${message.correct ?? 0} correct`));
  }

  /** quiz.answered (my answer was taken) and quiz.result (was it right, points). */
  quizFeedback(message) {
    if (!this.quizResult || message.step !== this.quizStep) return;
    if (message.type === "quiz.result") {
      const verdict = message.correct ? "Correct" : "Not quite";
      clear(this.quizResult, message.points ? `${verdict} — ${message.points} points` : verdict);
    } else clear(this.quizResult, "Answer received.");
  }

  /** quiz.closed {step, answer, tally}. */
  closeQuiz(message) {
    if (message.step !== undefined && message.step !== this.quizStep) return;
    for (const input of this.quiz.querySelectorAll("input, button")) input.disabled = true;
    for (const input of this.quizButtons?.querySelectorAll("button") ?? []) input.disabled = true;
    // The right choice(s), marked on the choices themselves.
    for (const r of [message.answer ?? []].flat()) {
      if (typeof r === "number") this.quiz.querySelectorAll(".choice")[r]?.classList.add("correct");
    }
    if (message.tally) this.showTally(message.tally);
    const right = message.answer;
    if (right !== undefined && right !== null) {
      const text = [right].flat().map((r) => (typeof r === "number" ? (this.quizOptions?.[r] ?? r) : r)).join(", ");
      this.quiz.append(h("p", { class: "answer", "data-testid": "quiz-answer" }, `Answer: ${text}`));
    }
  }

  /** The step a run checks (run.start's demo_step): the shown step, when it has a validation. */
  checkStep() {
    if (!this.shown || !this.following) return null;
    const step = typeof this.shown.step === "object" ? this.shown.step : {};
    return step.validation ? indexOf(this.shown) : null;
  }

  /** demo.check {index, passed}: the result of the student's check run. */
  checked(message) {
    if (!this.shown || message.index !== indexOf(this.shown)) return;
    this.check.dataset.state = message.passed ? "passed" : "failed";
    this.check.textContent = message.passed ? "✔ Step complete." : "✘ Not yet: the output is not what this step expects.";
  }

  /** demo.validation {index, count, students} (instructors): who completed the step. */
  validation(message) {
    if (!this.shown || message.index !== indexOf(this.shown)) return;
    this.check.textContent = `${message.count} of ${message.students} students completed this step.`;
  }

  /** demo.paused / demo.resumed: an auto-advancing step stopped at a pause point, or going on. */
  paused(flag) {
    this.clock.textContent = flag ? "Paused" : "";
    if (this.resumeButton) this.resumeButton.hidden = !flag;
  }

  /** demo.followers (instructors): how many students follow. */
  followers(message) {
    const detached = (message.detached ?? []).length;
    this.followInfo.textContent = `${message.followers ?? 0} of ${message.students ?? 0} students following${detached ? `, ${detached} detached` : ""}`;
  }
}

function indexOf(demo) {
  if (typeof demo.index === "number") return demo.index;
  if (typeof demo.step === "number") return demo.step;
  return demo.step_index ?? 0;
}

/** Horizontal bars of answer counts; shared with the dashboard. */
export function renderTally(root, options, counts) {
  const values = Array.isArray(counts) ? counts : options.map((_, i) => counts[i] ?? counts[String(i)] ?? 0);
  const total = values.reduce((a, b) => a + b, 0) || 1;
  clear(root, h("ul", { class: "bars" }, values.map((count, i) =>
    h("li", {}, h("span", { class: "bar-label" }, options[i] ?? `option ${i + 1}`),
      h("span", { class: "bar", style: `--share:${Math.round((100 * count) / total)}%` }),
      h("span", { class: "bar-count" }, String(count))))));
}
