// The room page, for students and instructors: an editor bound to the caller's document, the
// run button and output pane, and the demo, exercise, leaderboard and presence panels, all fed
// by the room events socket.
import { h, $, clear } from "./dom.js";
import { api, useToken } from "./api.js";
import { openDoc } from "./collab.js";
import { createEditor } from "./editor.js";
import { LANGUAGES, languageById, languageOfDoc, docWithLanguage } from "./languages.js";
import { RoomEvents } from "./events.js";
import { OutputPane } from "./output.js";
import { DemoPanel } from "./demo.js";
import { ExercisePanel } from "./exercise.js";
import { Presence } from "./presence.js";
import { renderLeaderboard } from "./leaderboard.js";
import { runOverHttp } from "./runs.js";
import { toast } from "./toasts.js";

const DOC_STATUS = {
  connecting: "Connecting…",
  connected: "Connected, syncing…",
  synced: "Saved",
  offline: "Offline — your edits are kept and will merge when back",
  denied: "Read-only",
  refused: "Not allowed to open this document",
};

/** The document a caller edits by default in this room. */
function defaultDoc(room, me, isInstructor, lang) {
  if (room.kind === "pair") return `pairs/${room.group ?? room.id}/main.${lang.ext}`;
  if (isInstructor) return "demo";
  return `students/${me}/main.${lang.ext}`;
}

export async function bootRoom(boot) {
  const { token, user } = boot;
  const roomId = boot.room_id;
  useToken(token);
  const isInstructor = boot.role !== "student";
  let info = { room: { id: roomId, title: `Room ${roomId}`, kind: "lesson" }, members: [], documents: [] };
  try {
    info = await api("GET", `/api/rooms/${roomId}`);
  } catch (error) {
    toast("Room details unavailable", error.message, "error");
  }
  const room = info.room ?? info;
  $("#room-title").textContent = room.title ?? `Room ${roomId}`;
  const classroom = room.classroom_id ?? boot.classroom_id;

  const explicitDoc = new URLSearchParams(location.search).get("doc");
  const stored = localStorage.getItem(`language:${roomId}`);
  let lang = explicitDoc && explicitDoc.includes(".") ? languageOfDoc(explicitDoc) : languageById(stored ?? "python");
  let docName = explicitDoc ?? defaultDoc(room, user.id, isInstructor, lang);

  const select = $("#language");
  clear(select, LANGUAGES.map((l) => h("option", { value: l.id, selected: l.id === lang.id }, l.label)));
  const docLabel = $("#doc-name");
  const docStatus = $("#doc-status");
  const editorHost = $("#editor");
  let session = null;
  let editor = null;

  const bind = () => {
    editor?.destroy();
    session?.destroy();
    docLabel.textContent = docName;
    session = openDoc({ room: roomId, doc: docName, token, user, onStatus: (state, reason) => {
      docStatus.textContent = reason ? `${DOC_STATUS[state]}: ${reason}` : (DOC_STATUS[state] ?? state);
      docStatus.dataset.state = state;
      if (state === "denied") editor?.setReadOnly(true);
    } });
    clear(editorHost);
    editor = createEditor(editorHost, session.ytext, { awareness: session.awareness, language: lang, label: `Code editor, ${docName}` });
    window.classroom = { doc: session.ydoc, provider: session.provider, view: editor.view, docName };
  };
  bind();

  select.addEventListener("change", () => {
    lang = languageById(select.value);
    localStorage.setItem(`language:${roomId}`, lang.id);
    // Each language keeps its own file; an explicitly opened document keeps its name.
    if (!explicitDoc && docName !== "demo") {
      docName = docWithLanguage(docName, lang);
      bind();
    } else editor.setLanguage(lang);
  });

  const events = new RoomEvents(roomId, token);
  const send = (message) => events.send(message);
  const output = new OutputPane($("#output"), send);
  const presence = new Presence($("#members"), isInstructor ? $("#hands") : null, { room: roomId, me: user.id, send: isInstructor ? send : null });
  let demos = [];
  if (isInstructor && classroom !== undefined) {
    try {
      const data = await api("GET", `/api/classrooms/${classroom}/demos`);
      demos = Array.isArray(data) ? data : (data?.demos ?? []);
    } catch (error) {
      console.warn("demos unavailable", error);
    }
  }
  let exercise = null;
  const demo = new DemoPanel($("#demo"), { send, isInstructor, demos, onExercise: (ref) => exercise?.show(ref) });
  if (!isInstructor) {
    // The instructor's live demo code, read-only for students.
    demo.showCode((host) => {
      const demoDoc = openDoc({ room: roomId, doc: "demo", token, user });
      createEditor(host, demoDoc.ytext, { awareness: demoDoc.awareness, readOnly: true, compact: true, label: "Demo code (read-only)" });
    });
  }
  exercise = new ExercisePanel($("#exercise"), { room: roomId, classroom, currentDoc: () => docName });
  const board = $("#leaderboard-body");
  renderLeaderboard(board, [], user.id);
  presence.render();

  // Run: over the events socket (streamed); over HTTP when the socket is down.
  let awaitingRun = false;
  const runButton = $("#run");
  const run = async () => {
    const command = { type: "run.start", doc: docName, language: lang.id };
    if (send(command)) {
      awaitingRun = true;
      output.error("Starting…");
      return;
    }
    runButton.disabled = true;
    try {
      await runOverHttp(roomId, command, output);
    } finally {
      runButton.disabled = false;
    }
  };
  runButton.addEventListener("click", run);
  editorHost.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      run();
    }
  });

  const handButton = $("#hand");
  handButton.addEventListener("click", () => {
    const up = presence.myHand() !== null;
    if (!send(up ? { type: "hand.lower" } : { type: "hand.raise", doc: docName })) toast("Not connected", "Try again in a moment.", "error");
  });
  const syncHand = () => {
    const up = presence.myHand() !== null;
    handButton.textContent = up ? "Lower hand" : "Raise hand";
    handButton.setAttribute("aria-pressed", String(up));
  };

  const mine = (message) => message.user_id === undefined || String(message.user_id) === String(user.id);
  const eventsStatus = $("#events-status");
  events
    .on("status", (state) => {
      eventsStatus.textContent = { connecting: "Room: connecting…", connected: "Room: live", offline: "Room: reconnecting…", refused: "Room: not allowed" }[state] ?? state;
      eventsStatus.dataset.state = state;
    })
    .on("room.snapshot", (message) => {
      presence.snapshot(message.members ?? [], message.hands ?? []);
      syncHand();
      demo.update(message.demo ?? null);
      renderLeaderboard(board, message.leaderboard ?? [], user.id);
      if (message.quiz) demo.showQuiz(message.quiz);
    })
    .on("member.joined", (m) => presence.joined(m))
    .on("member.left", (m) => presence.left(m))
    .on("demo.step", (m) => demo.update(m.demo ?? m))
    .on("demo.stopped", () => demo.update(null))
    .on("run.started", (m) => {
      if (!(awaitingRun && mine(m)) && m.run_id !== output.runId) return;
      awaitingRun = false;
      output.started(m);
    })
    .on("run.output", (m) => output.output(m))
    .on("run.finished", (m) => output.finished(m))
    .on("grade.result", (m) => mine(m) && exercise.showResult(m))
    .on("leaderboard.update", (m) => renderLeaderboard(board, m.entries ?? m.leaderboard ?? [], user.id))
    .on("achievement.unlocked", (m) => mine(m) && toast(`Achievement: ${m.title ?? m.name ?? m.achievement}`, m.description ?? "", "good"))
    .on("hand.raised", (m) => { presence.hand(m); syncHand(); })
    .on("hand.lowered", (m) => { presence.hand(m); syncHand(); })
    .on("hand.taken", (m) => { presence.hand(m); syncHand(); })
    .on("hand.done", (m) => { presence.hand(m); syncHand(); })
    .on("quiz.opened", (m) => demo.showQuiz(m.quiz ? { step: m.step, ...m.quiz } : m))
    .on("quiz.tally", (m) => demo.showTally(m))
    .on("quiz.closed", (m) => demo.closeQuiz(m))
    .on("error", (m) => {
      if (awaitingRun) {
        awaitingRun = false;
        output.error(m.message ?? "The run was refused.");
      }
      toast("Problem", m.message ?? String(m.code ?? "error"), "error");
    })
    .connect();
}
