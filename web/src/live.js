// The live view of one room on the dashboard: the sticky lesson bar (join code, demo and quiz
// controls, the live exercise), every student's document in a grid of small read-only editors
// that update as they type (click one to open it read-write), and panels (panels.js) for the
// raised hands, leaderboard, the demo's step and its quiz tally, and recent runs.
import { h, $, clear } from "./dom.js";
import { api } from "./api.js";
import { openDoc } from "./collab.js";
import { createEditor } from "./editor.js";
import { languageOfDoc } from "./languages.js";
import { RoomEvents } from "./events.js";
import { DemoPanel } from "./demo.js";
import { addPanel } from "./panels.js";
import { Leaderboard } from "./leaderboard.js";
import { Presence } from "./presence.js";
import { statusText } from "./output.js";
import { toast } from "./toasts.js";
import { Cockpit } from "./cockpit.js";

const REFRESH_MS = 5000;
// Each tile is one socket, and the server caps the sockets of one user: only tiles on screen
// (or near it) stay connected; one scrolled away lets go of its socket after a while.
const LET_GO_MS = 10_000;

export async function bootLive(boot, roomId) {
  const root = $("#live");
  root.hidden = false;
  $("#lesson-bar").hidden = false;
  const room = await api("GET", `/api/rooms/${roomId}`);
  const { classrooms = [] } = await api("GET", "/api/classrooms").catch(() => ({}));
  const code = classrooms.find((c) => c.id === room.classroom_id)?.join_code;
  if (code) {
    $("#bar-code").textContent = code;
    $("#bar-code").setAttribute("aria-label", `Join code ${code.split("").join(" ")}`);
  }
  const handsBody = addPanel("hands", "Raised hands", { order: 10 });
  const boardBody = addPanel("leaderboard", "Leaderboard", { order: 20 });
  const demoBody = addPanel("demo", "On the screen", { order: 30 });
  const runsBody = addPanel("runs", "Recent runs", { order: 40 });
  const names = new Map(room.members.map((m) => [String(m.id), m.name]));
  $("#live-title").textContent = `Live: ${room.title}`;
  $("#live-enter").href = `/rooms/${roomId}`;

  const grid = $("#grid");
  const tiles = new Map();
  /** A tile per student or pair document: {name, kind, owners: [{id, name}]} from /docs. */
  const addTile = ({ name: doc, kind, owners = [] }) => {
    if (tiles.has(doc) || (kind !== "students" && kind !== "pairs")) return;
    const owner = doc.split("/")[1];
    const who = owners.length ? owners.map((o) => o.name).join(" & ") : (kind === "pairs" ? `Pair ${owner}` : (names.get(owner) ?? `Student ${owner}`));
    const host = h("div", { class: "tile-code" });
    const href = `/rooms/${roomId}?doc=${encodeURIComponent(doc)}`;
    const tile = h("li", { class: "tile", dataset: { doc } },
      h("a", { href, class: "tile-head" }, h("strong", {}, who), h("span", { class: "muted" }, ` ${doc.split("/")[2]}`)),
      host);
    host.addEventListener("click", () => location.assign(href));
    grid.append(tile);
    const session = openDoc({ room: roomId, doc, user: boot.user, watch: true, connect: false, onStatus: (state, reason) => {
      tile.dataset.state = state;
      tile.title = state === "refused" ? `Not live: ${reason}` : "";
    } });
    createEditor(host, session.ytext, { awareness: session.awareness, readOnly: true, compact: true, language: languageOfDoc(doc), label: `${who}'s code, ${doc}` });
    tiles.set(doc, { session, timer: null });
    tileOf.set(tile, doc);
    visibility.observe(tile);
  };
  const tileOf = new WeakMap();
  const visibility = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const state = tiles.get(tileOf.get(entry.target));
      clearTimeout(state.timer);
      if (entry.isIntersecting) state.session.resume();
      else state.timer = setTimeout(() => state.session.pause(), LET_GO_MS);
    }
  }, { rootMargin: "200px" });
  const refresh = async () => {
    try {
      const { documents } = await api("GET", `/api/rooms/${roomId}/docs`);
      for (const doc of documents) addTile(doc);
      $("#grid-empty").hidden = tiles.size > 0;
    } catch (error) {
      console.warn("room refresh failed", error);
    }
  };
  await refresh();
  // A student's file appears when they first type; a cheap poll finds new ones.
  setInterval(refresh, REFRESH_MS);
  if (room.kind === "pair") pairForm(addPanel("pairs", "Make a pair", { order: 5 }), roomId, room.members, (group, members) => {
    addTile({ name: `pairs/${group}/main.py`, kind: "pairs", owners: members });
    $("#grid-empty").hidden = true;
  });

  await liveExerciseControls($("#bar-exercise"), roomId, room.classroom_id);

  const events = new RoomEvents(roomId);
  const send = (message) => events.send(message);
  const demos = await api("GET", `/api/classrooms/${room.classroom_id}/demos`).then((d) => (Array.isArray(d) ? d : (d?.demos ?? []))).catch(() => []);
  const demo = new DemoPanel(demoBody, { send, isInstructor: true, demos, controlsRoot: $("#bar-demo"), quizControlsRoot: $("#bar-quiz") });
  const hands = new Presence(null, handsBody, { room: roomId, me: boot.user.id, send });
  const runs = new Map();
  const drawRuns = () => {
    const rows = [...runs.values()].slice(-15).reverse();
    clear(runsBody, rows.length ? h("table", { class: "runs", "data-testid": "runs" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Who"), h("th", { scope: "col" }, "Language"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Time"))),
      h("tbody", {}, rows.map((r) => h("tr", { class: `run-${r.status ?? "running"}` },
        h("td", {}, r.user?.name ?? names.get(String(r.user?.id ?? r.user_id)) ?? `#${r.user_id}`),
        h("td", {}, r.language ?? ""),
        h("td", {}, r.status ? statusText(r.status) : "running"),
        h("td", {}, typeof r.time_ms === "number" ? `${r.time_ms} ms` : ""))))) : h("p", { class: "muted" }, "No runs yet."));
  };
  const board = new Leaderboard(boardBody, { nameOf: (id) => names.get(String(id)) });
  const status = $("#live-status");
  events
    .on("status", (state) => { status.textContent = state === "connected" ? "live" : state; status.dataset.state = state; })
    .on("room.snapshot", (m) => {
      hands.snapshot([], m.hands ?? []);
      for (const member of m.members ?? []) names.set(String(member.user_id ?? member.id), member.name);
      runs.clear();
      for (const r of m.runs ?? []) runs.set(r.run_id ?? r.id, { ...r, run_id: r.run_id ?? r.id });
      drawRuns();
      board.snapshot(m.leaderboard);
      demo.update(m.demo ?? null);
    })
    .on("member.joined", (m) => { const u = m.user ?? m; names.set(String(u.id ?? u.user_id), u.name); refresh(); })
    .on("hand.raised", (m) => hands.hand(m))
    .on("hand.lowered", (m) => hands.hand(m))
    .on("hand.taken", (m) => hands.hand(m))
    .on("hand.done", (m) => hands.hand(m))
    .on("run.started", (m) => { runs.set(m.run_id, { ...(runs.get(m.run_id) ?? {}), ...m }); drawRuns(); })
    .on("run.finished", (m) => { runs.set(m.run_id, { ...(runs.get(m.run_id) ?? {}), ...m }); drawRuns(); })
    .on("leaderboard.update", (m) => board.update(m))
    .on("demo.step", (m) => demo.update(m))
    .on("demo.stopped", () => demo.update(null))
    .on("demo.validation", (m) => demo.validation(m))
    .on("demo.paused", () => demo.paused(true))
    .on("demo.resumed", () => demo.paused(false))
    .on("demo.followers", (m) => demo.followers(m))
    .on("quiz.state", (m) => demo.showQuiz(m))
    .on("quiz.opened", (m) => demo.showQuiz(m))
    .on("quiz.tally", (m) => demo.showTally(m))
    .on("quiz.closed", (m) => demo.closeQuiz(m));
  const tools = addPanel("exercise", "Exercise analytics", { order: 15 });
  await new Cockpit($("#cockpit"), { tools, roomId, classroomId: room.classroom_id, events }).start();
  events.connect();
}

/** The lesson bar's live exercise: pick one of the classroom's exercises and open it in this
 * room for some minutes (earlier passes earn more XP). */
async function liveExerciseControls(root, roomId, classroom) {
  const { exercises = [] } = await api("GET", `/api/classrooms/${classroom}/exercises`).catch(() => ({}));
  if (exercises.length === 0) {
    clear(root, h("span", { class: "muted" }, "No exercises imported."));
    return;
  }
  const picker = h("select", { id: "live-exercise" }, exercises.map((ex) => h("option", { value: ex.id }, ex.title ?? ex.id)));
  const minutes = h("input", { type: "number", min: "1", max: "600", value: "10", id: "live-minutes", class: "minutes" });
  const chosen = () => exercises.find((ex) => String(ex.id) === picker.value) ?? exercises[0];
  const open = h("button", { type: "button", class: "secondary", onclick: async () => {
    const ex = chosen();
    try {
      await api("POST", `/api/rooms/${roomId}/exercises/${encodeURIComponent(ex.id)}/live`, { minutes: Number(minutes.value) || 10 });
      toast("Exercise open", `${ex.title} for ${minutes.value} minutes`, "good");
    } catch (error) {
      toast("Could not open the exercise", error.message, "error");
    }
  } }, "Open live");
  const label = () => open.setAttribute("aria-label", `Open live: ${chosen().title ?? chosen().id}`);
  picker.addEventListener("change", label);
  label();
  clear(root, h("label", { for: "live-exercise" }, "Exercise"), picker,
    h("label", { for: "live-minutes" }, "for"), minutes, h("span", {}, "min"), open);
}

/** Pair rooms: choose students for a group; they then share pairs/{group}/main.py. */
function pairForm(host, roomId, members, onPaired) {
  const students = members.filter((m) => m.role === "student");
  let count = 1;
  const group = h("input", { id: "pair-group", value: `pair-${count}`, required: true, maxlength: 40, pattern: "[A-Za-z0-9_-]+" });
  const boxes = students.map((m) => h("label", { class: "choice" }, h("input", { type: "checkbox", value: String(m.id) }), ` ${m.name}`));
  const form = h("form", { class: "stack", "aria-label": "Make a pair", onsubmit: async (event) => {
    event.preventDefault();
    const ids = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => Number(i.value));
    try {
      const made = await api("PUT", `/api/rooms/${roomId}/pairs/${encodeURIComponent(group.value)}`, { user_ids: ids });
      toast("Pair made", made.members.map((m) => m.name).join(" & "), "good");
      onPaired(made.group, made.members);
      for (const b of boxes) b.querySelector("input").checked = false;
      group.value = `pair-${++count}`;
    } catch (error) {
      toast("Could not make the pair", error.message, "error");
    }
  } },
    h("div", {}, h("label", { for: "pair-group" }, "Group name"), " ", group),
    h("fieldset", {}, h("legend", {}, "Students"), boxes.length ? boxes : h("p", { class: "muted" }, "No students yet.")),
    h("button", { type: "submit" }, "Pair them"));
  host.append(form);
}
