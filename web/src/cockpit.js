// The instructor's cockpit on the dashboard's live view: the class grid (students ×
// exercises, stuck ones on top, live from progress.update), the quiet signals (stuck, hands,
// comments: counters, never a popup over anything), pushing a hint or a message, and the
// analytics of one exercise as charts (Chart.js, in its own bundle static/charts.js, loaded
// on the first chart) with CSV/JSON exports.
// The grid, the signals and the stuck list sit above the students' code; the exercise tools and
// analytics are a panel (panels.js) beside it, so the live tiles stay on the first screen
// (tiles off screen let go of their sockets, see live.js).
import { h, clear } from "./dom.js";
import { api } from "./api.js";
import { toast } from "./toasts.js";
import { exerciseFile } from "./languages.js";

let charts = null;

/** Chart.js from static/charts.js (src/charts.js), loaded once, with app.js's version query. */
export function loadCharts() {
  charts ??= new Promise((resolve, reject) => {
    const app = document.querySelector('script[src^="/static/app.js"]')?.getAttribute("src") ?? "/static/app.js";
    const script = h("script", { src: app.replace("/static/app.js", "/static/charts.js"), async: true });
    script.addEventListener("load", () => (window.ClassroomCharts?.Chart ? resolve(window.ClassroomCharts.Chart) : reject(new Error("the charts bundle is not Chart.js"))));
    script.addEventListener("error", () => {
      charts = null; // the next analytics try again
      script.remove();
      reject(new Error("the charts could not be loaded"));
    });
    document.head.append(script);
  });
  return charts;
}

// The stuck rule's "minutes without progress" moves with the clock: re-read the grid now and then.
const REFRESH_MS = 30_000;
const STATE_TEXT = { not_started: "not started", working: "working", failing: "failing", passed: "passed" };

/** "3 min ago" for an ISO time, from `now` (ms). */
export function since(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}

function cellText(c) {
  if (c.state === "passed") return `✓ ${c.best_score}/${c.max_score}`;
  if (c.state === "failing") return `✗ ${c.attempts}`;
  if (c.state === "working") return "…";
  return "·";
}

export class Cockpit {
  /** `root`: the cockpit's place above the students' code; `tools`: the body of its panel. */
  constructor(root, { tools, roomId, classroomId, events }) {
    Object.assign(this, { root, tools, roomId, classroomId, events });
    this.students = [];
    this.exercises = [];
    this.cells = new Map(); // "user:exercise" -> cell
    this.docs = new Map(); // user id -> their documents' names
    this.files = new Map(); // exercise id -> the file it is done in (sum.py)
    this.signals = { comments: 0 };
    this.hands = new Map(); // hand id -> state: the pending ones are a signal
    this.charts = [];
    this.drawQueued = false;
    this.build();
    events
      .on("progress.update", (m) => this.update(m.cell, m.student))
      .on("room.snapshot", (m) => { this.hands = new Map((m.hands ?? []).map((x) => [x.id, x.state])); this.drawSignals(); })
      .on("comment.added", () => { this.signals.comments += 1; this.drawSignals(); });
    for (const kind of ["hand.raised", "hand.lowered", "hand.taken", "hand.done"]) {
      events.on(kind, (m) => { if (m.hand) this.hands.set(m.hand.id, m.hand.state); this.drawSignals(); });
    }
  }

  build() {
    this.signalBar = h("p", { class: "signals", "data-testid": "signals", "aria-live": "polite" });
    this.stuckList = h("ol", { class: "stuck-list", "data-testid": "stuck-list" });
    // A region of its own that scrolls (a large class on a phone): focusable, so the keyboard
    // can scroll it too.
    this.table = h("div", { class: "cockpit-grid", "data-testid": "class-grid", role: "region", tabindex: "0", "aria-label": "Class grid: students by exercises" });
    this.exerciseSelect = h("select", { id: "cockpit-exercise", onchange: () => this.analytics() });
    this.message = h("input", { id: "cockpit-message", maxlength: 2000, placeholder: "A message for the students" });
    this.summary = h("div", { class: "analytics-summary", "data-testid": "analytics-summary" });
    this.demoSelect = h("select", { id: "cockpit-demo", onchange: () => this.demoAnalytics() });
    this.demoBody = h("div", {});
    this.errors = h("ol", { class: "error-clusters", "data-testid": "error-clusters" });
    this.exports = h("p", { class: "exports" });
    const canvas = (label) => h("canvas", { role: "img", "aria-label": label, height: 160 });
    this.failCanvas = canvas("Failures per test");
    this.attemptCanvas = canvas("Students by number of attempts");
    clear(this.root,
      h("header", { class: "panel-head" }, h("h3", { id: "cockpit-title" }, "Class progress"), this.signalBar),
      h("section", { "aria-labelledby": "stuck-title" }, h("h4", { id: "stuck-title" }, "Stuck longest"), this.stuckList),
      this.table);
    clear(this.tools,
      h("div", { class: "cockpit-tools" },
        h("div", { class: "row" }, h("label", { for: "cockpit-exercise" }, "Exercise"), this.exerciseSelect,
          h("button", { type: "button", class: "secondary", onclick: () => this.push({ to: "stuck" }) }, "Push a hint to the stuck"),
          h("label", { for: "cockpit-message", class: "sr-only" }, "Message"), this.message,
          h("button", { type: "button", class: "secondary", onclick: () => this.push({ to: "room", message: this.message.value.trim() }) }, "Send to the room")),
        this.summary,
        // Chart.js sizes a canvas to its parent: a box of its own, so the caption keeps its place.
        h("div", { class: "charts" }, h("figure", {}, h("div", { class: "chart-box" }, this.failCanvas), h("figcaption", {}, "Failures per test")),
          h("figure", {}, h("div", { class: "chart-box" }, this.attemptCanvas), h("figcaption", {}, "Students by attempts"))),
        h("h3", {}, "Common errors"), this.errors, this.exports),
      h("div", { class: "cockpit-tools", "aria-labelledby": "demo-analytics-title" },
        h("h3", { id: "demo-analytics-title" }, "Demo"),
        h("div", { class: "row" }, h("label", { for: "cockpit-demo" }, "Demo"), this.demoSelect),
        this.demoBody));
  }

  /** Followers and detachers per step, quiz correctness per question, of one demo. */
  async demoAnalytics() {
    const demo = this.demoSelect.value;
    if (!demo) return;
    try {
      const data = await api("GET", `/api/classrooms/${this.classroomId}/demos/${encodeURIComponent(demo)}/analytics`);
      const quiz = new Map(data.quiz.map((q) => [q.step, q]));
      clear(this.demoBody, data.steps.length ? h("table", { class: "demo-steps", "data-testid": "demo-analytics" },
        h("thead", {}, h("tr", {}, ["Step", "Followers", "Detached", "Quiz correct"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, data.steps.map((s) => h("tr", {}, h("td", {}, String(s.step + 1)), h("td", {}, String(s.followers)), h("td", {}, String(s.detachers)),
          h("td", {}, quiz.has(s.step) ? `${quiz.get(s.step).correct} of ${quiz.get(s.step).answers}` : "—")))))
        : h("p", { class: "muted" }, `Not presented yet (${data.sessions} sessions).`));
    } catch (error) {
      clear(this.demoBody, h("p", { class: "error" }, error.message));
    }
  }

  async start() {
    // Where each exercise is done (one file per exercise, as the room opens it).
    const { exercises = [] } = await api("GET", `/api/classrooms/${this.classroomId}/exercises`).catch(() => ({}));
    for (const ex of exercises) this.files.set(String(ex.id), exerciseFile(ex));
    await this.refresh();
    const { demos = [] } = await api("GET", `/api/classrooms/${this.classroomId}/demos`).catch(() => ({}));
    if (demos.length) {
      clear(this.demoSelect, demos.map((d) => h("option", { value: d.id }, d.title ?? d.id)));
      this.demoAnalytics();
    } else {
      clear(this.demoBody, h("p", { class: "muted" }, "No demos imported."));
    }
    setInterval(() => this.refresh(), REFRESH_MS);
  }

  async refresh() {
    try {
      const grid = await api("GET", `/api/rooms/${this.roomId}/progress`);
      const { documents = [] } = await api("GET", `/api/rooms/${this.roomId}/docs`).catch(() => ({}));
      this.docs.clear();
      for (const d of documents) {
        const owner = Number(d.name.split("/")[1]);
        if (d.kind === "students") this.docs.set(owner, [...(this.docs.get(owner) ?? []), d.name]);
      }
      this.students = grid.students;
      const first = !this.exercises.length && grid.exercises.length;
      this.exercises = grid.exercises;
      this.cells = new Map(grid.cells.map((c) => [`${c.user_id}:${c.exercise_id}`, c]));
      if (first) {
        clear(this.exerciseSelect, this.exercises.map((e) => h("option", { value: e.id }, e.title ?? e.id)));
        this.analytics();
      }
      this.draw();
    } catch (error) {
      console.warn("cockpit refresh failed", error);
    }
  }

  update(cell, student) {
    if (student && !this.students.some((s) => s.id === student.id)) this.students.push(student);
    this.cells.set(`${cell.user_id}:${cell.exercise_id}`, cell);
    if (this.drawQueued) return;
    this.drawQueued = true;
    requestAnimationFrame(() => { this.drawQueued = false; this.draw(); });
    if (cell.exercise_id === this.exerciseSelect.value) this.analyticsSoon();
  }

  analyticsSoon() {
    clearTimeout(this.analyticsTimer);
    this.analyticsTimer = setTimeout(() => this.analytics(), 1000);
  }

  /** The student's file for `exercise` (where they work on it), else their first file. */
  docOf(userId, exercise) {
    const file = this.files.get(String(exercise));
    if (file) return `students/${userId}/${file}`;
    return this.docs.get(userId)?.[0] ?? `students/${userId}/main.py`;
  }

  nameOf(userId) {
    return this.students.find((s) => s.id === userId)?.name ?? `#${userId}`;
  }

  stuckCells() {
    const stuck = [...this.cells.values()].filter((c) => c.stuck);
    return stuck.sort((a, b) => (a.last_change_at ?? "").localeCompare(b.last_change_at ?? ""));
  }

  draw() {
    const now = Date.now();
    const stuck = this.stuckCells();
    const order = [...new Set([...stuck.map((c) => c.user_id), ...this.students.map((s) => s.id)])];
    clear(this.stuckList, stuck.length ? stuck.slice(0, 10).map((c) => h("li", { dataset: { user: c.user_id, exercise: c.exercise_id } },
      h("strong", {}, this.nameOf(c.user_id)), ` on ${c.exercise_id}: ${c.attempts} attempts, changed ${since(c.last_change_at, now)} `,
      c.last_error ? h("code", { class: "last-error" }, c.last_error) : null, " ",
      h("button", { type: "button", class: "secondary small", onclick: () => this.push({ to: "student", user_id: c.user_id }, c.exercise_id) }, `Push hint to ${this.nameOf(c.user_id)}`), " ",
      h("a", { href: `/rooms/${this.roomId}?doc=${encodeURIComponent(this.docOf(c.user_id, c.exercise_id))}` }, "open code"))) : h("li", { class: "muted" }, "Nobody is stuck."));
    const head = h("tr", {}, h("th", { scope: "col" }, "Student"), this.exercises.map((e) => h("th", { scope: "col" }, e.title ?? e.id)));
    const rows = order.map((uid) => h("tr", { dataset: { user: uid } }, h("th", { scope: "row" }, this.nameOf(uid)),
      this.exercises.map((e) => {
        const c = this.cells.get(`${uid}:${e.id}`) ?? { state: "not_started", attempts: 0 };
        const detail = [STATE_TEXT[c.state], c.attempts ? `${c.attempts} attempts` : "", c.last_change_at ? `changed ${since(c.last_change_at, now)}` : "", c.last_error ?? ""].filter(Boolean).join(" · ");
        return h("td", { class: `cell ${c.state}${c.stuck ? " stuck" : ""}`, title: detail, "aria-label": `${this.nameOf(uid)}, ${e.title ?? e.id}: ${detail}${c.stuck ? ", stuck" : ""}`,
          dataset: { user: uid, exercise: e.id, state: c.state, stuck: c.stuck ? "true" : "false" },
          onclick: () => location.assign(`/rooms/${this.roomId}?doc=${encodeURIComponent(this.docOf(uid, e.id))}`) }, cellText(c));
      })));
    clear(this.table, this.exercises.length ? h("table", { class: "class-grid" }, h("thead", {}, head), h("tbody", {}, rows)) : h("p", { class: "muted" }, "No exercises imported."));
    this.signals.stuck = new Set(stuck.map((c) => c.user_id)).size;
    this.drawSignals();
  }

  drawSignals() {
    const { stuck = 0, comments } = this.signals;
    const hands = [...this.hands.values()].filter((state) => state === "pending").length;
    clear(this.signalBar,
      h("span", { class: `signal${stuck ? " on" : ""}`, "data-testid": "signal-stuck" }, `${stuck} stuck`), " · ",
      h("span", { class: `signal${hands ? " on" : ""}`, "data-testid": "signal-hands" }, `${hands} hands`), " · ",
      h("span", { class: `signal${comments ? " on" : ""}`, "data-testid": "signal-comments" }, `${comments} new comments`));
  }

  async push(body, exercise = this.exerciseSelect.value) {
    if (!exercise) return;
    if (body.to === "room" && !body.message) return toast("Nothing to send", "Write a message first", "error");
    try {
      const result = await api("POST", `/api/rooms/${this.roomId}/exercises/${encodeURIComponent(exercise)}/hints/push`, body);
      const names = result.sent.map((id) => this.nameOf(id)).join(", ") || "nobody";
      toast("Sent", `to ${names}${result.skipped.length ? ` (no hint left for ${result.skipped.length})` : ""}`, "good");
      if (body.to === "room") this.message.value = "";
    } catch (error) {
      toast("Could not push", error.message, "error");
    }
  }

  async analytics() {
    const exercise = this.exerciseSelect.value;
    if (!exercise) return;
    const base = `/api/classrooms/${this.classroomId}/exercises/${encodeURIComponent(exercise)}/analytics`;
    let data;
    try {
      data = await api("GET", base);
    } catch (error) {
      clear(this.summary, h("p", { class: "error" }, error.message));
      return;
    }
    const rate = data.pass_rate === null ? "—" : `${Math.round(data.pass_rate * 100)} %`;
    const secs = (v) => (v === null ? "—" : `${Math.round(v)} s`);
    clear(this.summary, h("dl", { class: "figures" },
      h("dt", {}, "Pass rate"), h("dd", { "data-testid": "pass-rate" }, `${rate} (${data.passed} of ${data.attempted} who tried; ${data.students} students)`),
      h("dt", {}, "Attempts"), h("dd", {}, `median ${data.attempts.median ?? "—"}, p90 ${data.attempts.p90 ?? "—"}`),
      h("dt", {}, "Time to first pass"), h("dd", {}, `median ${secs(data.time_to_first_pass_seconds.median)}, p90 ${secs(data.time_to_first_pass_seconds.p90)}`)));
    clear(this.errors, data.errors.length ? data.errors.map((e) => h("li", {}, h("code", {}, e.example), ` × ${e.count} — `, e.students.map((s) => s.name).join(", "))) : h("li", { class: "muted" }, "No errors yet."));
    clear(this.exports, h("a", { href: `${base}?format=csv`, download: "" }, "Export analytics (CSV)"), " · ", h("a", { href: base, download: `analytics-${exercise}.json` }, "(JSON)"));
    let Chart;
    try {
      Chart = await loadCharts();
    } catch (error) {
      this.summary.append(h("p", { class: "error" }, `Charts unavailable: ${error.message}`));
      return;
    }
    this.chart(Chart, 0, this.failCanvas, data.tests.map((t) => t.test), data.tests.map((t) => t.failures), "failures");
    this.chart(Chart, 1, this.attemptCanvas, data.attempts_histogram.map((b) => String(b.attempts)), data.attempts_histogram.map((b) => b.students), "students");
  }

  chart(Chart, slot, canvas, labels, values, label) {
    const existing = this.charts[slot];
    if (existing) {
      existing.data.labels = labels;
      existing.data.datasets[0].data = values;
      existing.update();
      return;
    }
    this.charts[slot] = new Chart(canvas, {
      type: "bar",
      data: { labels, datasets: [{ label, data: values, backgroundColor: "#3b6fb6" }] },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    canvas.dataset.ready = "true";
  }
}
