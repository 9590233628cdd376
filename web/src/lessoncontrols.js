// The instructor's lesson panel in the room: spotlight, push, freeze, announce, countdown,
// pair the class, rotate, and every pair with its driver. Each button sends one command on
// the events socket (the server checks the role; the same commands exist over HTTP).
import { h, clear } from "./dom.js";
import { api } from "./api.js";

const ACTIVITY_MS = 10_000;

function ago(iso) {
  if (!iso) return "no edits yet";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 60 ? `edited ${seconds} s ago` : `edited ${Math.round(seconds / 60)} min ago`;
}

export class LessonControls {
  constructor(root, { room, send, docName, docText, nameOf }) {
    Object.assign(this, { root, room, send, docName, docText, nameOf });
    this.pairsEl = h("div", { "data-testid": "pairs" });
    this.status = h("p", { class: "muted", role: "status", "data-testid": "lesson-status" });
    this.view = null;
    this.xp = new Map(); // user id -> points on the room's board
    this.edits = new Map(); // pair group -> last change of its files (ISO time)
    this.poll = null;
    this.render();
  }

  /** The room's board entries ({user_id, points}): each pair's progress shows their XP. */
  points(entries) {
    for (const entry of entries ?? []) this.xp.set(String(entry.user_id), entry.points ?? 0);
    this.pairs(this.view);
  }

  async refreshActivity() {
    const { documents = [] } = await api("GET", `/api/rooms/${this.room}/docs`).catch(() => ({}));
    this.edits.clear();
    for (const d of documents) {
      if (d.kind !== "pairs" || !d.updated_at) continue;
      const group = d.name.split("/")[1];
      if (!this.edits.has(group) || this.edits.get(group) < d.updated_at) this.edits.set(group, d.updated_at);
    }
    this.pairs(this.view, false);
  }

  render() {
    const reason = h("input", { id: "freeze-reason", placeholder: "Reason (shown to students)", "aria-label": "Freeze reason", maxlength: 200 });
    const text = h("input", { id: "announce-text", placeholder: "Announcement", "aria-label": "Announcement text", maxlength: 500 });
    const seconds = h("input", { id: "countdown-seconds", type: "number", min: 0, max: 10800, value: 300, "aria-label": "Countdown seconds" });
    const onlyEmpty = h("input", { id: "push-only-empty", type: "checkbox", checked: true });
    const strategy = h("select", { id: "pair-strategy", "aria-label": "Pairing strategy" }, ["random", "mixed", "alike"].map((s) => h("option", { value: s }, s)));
    const exercise = h("input", { id: "pair-exercise", placeholder: "Exercise id (starter code)", "aria-label": "Exercise for the pairs' starter code", maxlength: 100 });
    const minutes = h("input", { id: "pair-rotate", type: "number", min: 0, max: 120, value: 0, "aria-label": "Rotate every (minutes)" });
    const showName = h("input", { id: "spotlight-name", type: "checkbox", checked: true });
    const fileName = () => (this.docName().split("/").at(-1) || "main.py");
    const cmd = (message) => {
      if (!this.send({ ...message, ref: `lesson-${Date.now()}` })) this.status.textContent = "Not connected";
    };
    clear(
      this.root,
      h("h2", { id: "lesson-title" }, "Lesson"),
      h("p", {}, h("a", { href: `/rooms/${this.room}/projector`, target: "_blank", rel: "noopener" }, "Open the projector view")),
      h("div", { class: "row" },
        h("button", { type: "button", id: "spotlight-doc", onclick: () => {
          const doc = this.docName();
          const owner = doc.startsWith("students/") ? Number(doc.split("/")[1]) : null;
          if (owner === null) this.status.textContent = "Open a student's file first (click it on the dashboard).";
          else cmd({ type: "lesson.spotlight", user_id: owner, doc, show_name: showName.checked });
        } }, "Spotlight this file"),
        h("label", {}, showName, " show name"),
        h("button", { type: "button", class: "secondary", id: "spotlight-end", onclick: () => cmd({ type: "lesson.spotlight" }) }, "End spotlight"),
      ),
      h("div", { class: "row" },
        h("button", { type: "button", id: "push", onclick: () => cmd({ type: "lesson.push", files: { [fileName()]: this.docText() }, only_empty: onlyEmpty.checked }) }, "Push this code to every student"),
        h("label", {}, onlyEmpty, " only empty files"),
      ),
      h("div", { class: "row" }, reason,
        h("button", { type: "button", id: "freeze", onclick: () => cmd({ type: "lesson.freeze", reason: reason.value }) }, "Freeze editors"),
        h("button", { type: "button", class: "secondary", id: "unfreeze", onclick: () => cmd({ type: "lesson.unfreeze" }) }, "Unfreeze")),
      h("div", { class: "row" }, text,
        h("button", { type: "button", id: "announce", onclick: () => cmd({ type: "lesson.announce", text: text.value }) }, "Announce")),
      h("div", { class: "row" }, seconds,
        h("button", { type: "button", id: "countdown", onclick: () => cmd({ type: "lesson.countdown", seconds: Number(seconds.value) }) }, "Count down")),
      h("div", { class: "row" }, strategy, exercise, minutes,
        h("button", { type: "button", id: "pair-class", onclick: () => {
          const message = { type: "pairs.make", strategy: strategy.value, rotate_minutes: Number(minutes.value) };
          if (exercise.value.trim()) message.exercise_id = exercise.value.trim();
          cmd(message);
        } }, "Pair the class"),
        h("button", { type: "button", class: "secondary", id: "pair-rotate-now", onclick: () => cmd({ type: "pairs.rotate" }) }, "Rotate drivers"),
        h("button", { type: "button", class: "secondary", id: "pair-repair", onclick: () => cmd({ type: "pairs.repair" }) }, "Re-pair the alone")),
      this.pairsEl,
      this.status,
    );
  }

  /** The pairs as the staff see them (room.snapshot's lesson.pairs or pairs.updated). */
  pairs(view, refresh = true) {
    this.view = view ?? null;
    const groups = view?.groups ?? [];
    if (groups.length && this.poll === null) this.poll = setInterval(() => this.refreshActivity(), ACTIVITY_MS);
    if (refresh && groups.length) this.refreshActivity();
    clear(this.pairsEl,
      groups.length ? h("p", { class: "muted" }, `Round ${view.round}: ${groups.length} groups${view.rotate_every ? `, drivers rotate every ${view.rotate_every / 60} min` : ""}`) : null,
      h("ul", { class: "pairs" }, groups.map((g) => {
        const xp = g.members.reduce((sum, m) => sum + (this.xp.get(String(m)) ?? 0), 0);
        return h("li", { dataset: { group: g.group } },
          h("a", { href: `/rooms/${this.room}?doc=pairs/${g.group}/main.py` }, g.group), ": ",
          g.members.map((m) => `${this.nameOf(m) ?? `#${m}`}${m === g.driver ? " (driver)" : ""}`).join(", "),
          h("span", { class: "muted", "data-testid": "pair-progress" }, ` · ${xp} XP · ${ago(this.edits.get(g.group))}`));
      })),
    );
  }

  done(message) {
    if (message.type === "lesson.pushed") this.status.textContent = `Pushed ${message.files.join(", ")}: ${message.written} written, ${message.skipped} left as they were (${message.students} students)`;
    else this.status.textContent = `${message.command} done`;
    if (message.lesson?.pairs) this.pairs(message.lesson.pairs);
  }
}
