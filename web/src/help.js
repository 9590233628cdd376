// The student's help panel in the room: the hints of the chosen exercise as they unlock (one
// per failed attempts, or bought for XP), explanations once a test passes, hints and messages
// the staff push (hint.pushed), and scores set by hand (grade.override). Quiet by design: it
// lives in the side column and never covers the editor.
import { h, clear } from "./dom.js";
import { api } from "./api.js";
import { toast } from "./toasts.js";

export class HelpPanel {
  /** `exerciseId()` names the exercise on screen (null for none). */
  constructor(root, { roomId, events, exerciseId }) {
    Object.assign(this, { root, roomId, exerciseId });
    this.pushed = h("ul", { class: "pushed-list", "data-testid": "pushed" });
    this.body = h("div", { "data-testid": "hints" });
    this.notes = h("ul", { class: "override-list", "data-testid": "overrides" });
    clear(root,
      h("header", { class: "panel-head" }, h("h2", { id: "help-title" }, "Help")),
      h("div", { "aria-live": "polite" }, this.pushed, this.notes), this.body);
    events
      .on("hint.pushed", (m) => this.onPushed(m))
      .on("grade.override", (m) => this.onOverride(m.override))
      .on("grade.result", () => this.load())
      .on("room.snapshot", () => this.load());
  }

  onPushed(m) {
    const parts = [];
    if (m.hint) parts.push(h("p", {}, h("strong", {}, `Hint on ${m.test}: `), m.hint));
    if (m.message) parts.push(h("p", {}, m.message));
    this.pushed.prepend(h("li", { class: "pushed" }, h("span", { class: "muted" }, `From ${m.from}`), parts));
    if (m.hint) this.load();
  }

  onOverride(o) {
    this.notes.prepend(h("li", { class: "pushed" },
      `${o.by.name} set your score on ${o.exercise_id} to ${o.score}${o.max_score !== null && o.max_score !== undefined ? ` / ${o.max_score}` : ""}`,
      o.comment ? h("p", {}, o.comment) : null));
  }

  async load(id = this.exerciseId()) {
    if (!id) return clear(this.body, h("p", { class: "muted" }, "Pick an exercise to see its hints."));
    let data;
    try {
      data = await api("GET", `/api/rooms/${this.roomId}/exercises/${encodeURIComponent(id)}/hints`);
    } catch (error) {
      return clear(this.body, h("p", { class: "muted" }, error.message));
    }
    const tests = data.tests.filter((t) => t.hints.length || t.locked || t.explanation);
    clear(this.body, tests.length ? tests.map((t) => h("section", { class: "test-help", dataset: { test: t.test } },
      h("h3", {}, t.test),
      t.hints.length ? h("ol", {}, t.hints.map((text) => h("li", { class: "hint" }, text))) : null,
      t.locked ? h("button", { type: "button", class: "secondary small", onclick: () => this.buy(id, t.test) },
        `Unlock a hint (${t.hint_cost} XP, ${t.locked} left)`) : null,
      t.explanation ? h("p", { class: "explanation" }, h("strong", {}, "Why: "), t.explanation) : null))
      : h("p", { class: "muted" }, "No hints for this exercise."));
  }

  async buy(exercise, test) {
    try {
      await api("POST", `/api/rooms/${this.roomId}/exercises/${encodeURIComponent(exercise)}/hints`, { test });
      await this.load();
    } catch (error) {
      toast("No hint", error.message, "error");
    }
  }
}
