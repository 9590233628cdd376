// The live view of one room on the dashboard: every student's document in a grid of small
// read-only editors that update as they type (click one to open it read-write), the raised
// hands, leaderboard, recent runs, quiz tallies and the demo controls.
import { h, $, clear } from "./dom.js";
import { api } from "./api.js";
import { openDoc } from "./collab.js";
import { createEditor } from "./editor.js";
import { languageOfDoc } from "./languages.js";
import { RoomEvents } from "./events.js";
import { DemoPanel, renderTally } from "./demo.js";
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
  const room = await api("GET", `/api/rooms/${roomId}`);
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
    const session = openDoc({ room: roomId, doc, token: boot.token, user: boot.user, watch: true, connect: false, onStatus: (state, reason) => {
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
  if (room.kind === "pair") pairForm(roomId, room.members, (group, members) => {
    addTile({ name: `pairs/${group}/main.py`, kind: "pairs", owners: members });
    $("#grid-empty").hidden = true;
  });

  await listExercises(roomId, room.classroom_id);

  const events = new RoomEvents(roomId, boot.token);
  const send = (message) => events.send(message);
  const demos = await api("GET", `/api/classrooms/${room.classroom_id}/demos`).then((d) => (Array.isArray(d) ? d : (d?.demos ?? []))).catch(() => []);
  const demo = new DemoPanel($("#live-demo"), { send, isInstructor: true, demos });
  const hands = new Presence(null, $("#hands"), { room: roomId, me: boot.user.id, send });
  const runs = new Map();
  const drawRuns = () => {
    const rows = [...runs.values()].slice(-15).reverse();
    clear($("#runs"), rows.length ? h("table", { class: "runs", "data-testid": "runs" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Who"), h("th", { scope: "col" }, "Language"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Time"))),
      h("tbody", {}, rows.map((r) => h("tr", { class: `run-${r.status ?? "running"}` },
        h("td", {}, r.user?.name ?? names.get(String(r.user?.id ?? r.user_id)) ?? `#${r.user_id}`),
        h("td", {}, r.language ?? ""),
        h("td", {}, r.status ? statusText(r.status) : "running"),
        h("td", {}, typeof r.time_ms === "number" ? `${r.time_ms} ms` : ""))))) : h("p", { class: "muted" }, "No runs yet."));
  };
  const board = new Leaderboard($("#live-leaderboard"), { nameOf: (id) => names.get(String(id)) });
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
    .on("quiz.tally", (m) => {
      demo.showTally(m);
      renderTally($("#quiz-tally"), demo.quizOptions ?? [], m.counts ?? m.tally ?? []);
    })
    .on("quiz.closed", (m) => demo.closeQuiz(m));
  await new Cockpit($("#cockpit"), { roomId, classroomId: room.classroom_id, events }).start();
  events.connect();
}

/** The classroom's exercises, each with a button to open it live in this room for some minutes. */
async function listExercises(roomId, classroom) {
  const root = $("#live-exercises");
  const { exercises = [] } = await api("GET", `/api/classrooms/${classroom}/exercises`).catch(() => ({}));
  if (exercises.length === 0) return;
  clear(root, h("ul", { class: "live-exercises" }, exercises.map((ex) => {
    const minutes = h("input", { type: "number", min: "1", max: "600", value: "10", id: `live-min-${ex.id}`, class: "minutes" });
    const open = async () => {
      try {
        await api("POST", `/api/rooms/${roomId}/exercises/${encodeURIComponent(ex.id)}/live`, { minutes: Number(minutes.value) || 10 });
        toast("Exercise open", `${ex.title} for ${minutes.value} minutes`, "good");
      } catch (error) {
        toast("Could not open the exercise", error.message, "error");
      }
    };
    return h("li", { class: "row" }, h("strong", {}, ex.title ?? ex.id),
      h("label", { for: `live-min-${ex.id}` }, "minutes"), minutes,
      h("button", { type: "button", class: "secondary", onclick: open }, `Open ${ex.title ?? ex.id} live`));
  })));
}

/** Pair rooms: choose students for a group; they then share pairs/{group}/main.py. */
function pairForm(roomId, members, onPaired) {
  const students = members.filter((m) => m.role === "student");
  let count = 1;
  const group = h("input", { id: "pair-group", value: `pair-${count}`, required: true, maxlength: 40, pattern: "[A-Za-z0-9_-]+" });
  const boxes = students.map((m) => h("label", { class: "choice" }, h("input", { type: "checkbox", value: String(m.id) }), ` ${m.name}`));
  const form = h("form", { class: "card stack", "aria-labelledby": "pairs-title", onsubmit: async (event) => {
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
    h("h3", { id: "pairs-title" }, "Make a pair"),
    h("div", {}, h("label", { for: "pair-group" }, "Group name"), " ", group),
    h("fieldset", {}, h("legend", {}, "Students"), boxes.length ? boxes : h("p", { class: "muted" }, "No students yet.")),
    h("button", { type: "submit" }, "Pair them"));
  $("#live .side").prepend(form);
}
