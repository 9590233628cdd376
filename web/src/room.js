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
import { Leaderboard } from "./leaderboard.js";
import { toast } from "./toasts.js";
import { attachLesson } from "./lessonroom.js";
import { setAssetBase } from "./markdown.js";

const DOC_STATUS = {
  connecting: "Connecting…",
  connected: "Connected, syncing…",
  synced: "Saved",
  offline: "Offline — your edits are kept and will merge when back",
  denied: "Read-only",
  refused: "Not allowed to open this document",
};
const ROOM_STATUS = { connecting: "Room: connecting…", connected: "Room: live", offline: "Room: reconnecting…", refused: "Room: not allowed" };

/** In a pair room, the shared file the caller may write (null until they are paired). */
async function pairDoc(roomId) {
  const { documents = [] } = await api("GET", `/api/rooms/${roomId}/docs`).catch(() => ({}));
  return documents.find((d) => d.kind === "pairs" && d.access === "write")?.name ?? null;
}

/** The document a caller edits by default: the pair's shared file, else their own. */
async function defaultDoc(room, me, isInstructor, lang) {
  if (isInstructor) return "demo";
  if (room.kind === "pair") return (await pairDoc(room.id)) ?? `students/${me}/main.${lang.ext}`;
  return `students/${me}/main.${lang.ext}`;
}

const PAIR_POLL_MS = 3000;

/** The caller's document: its Y.Doc, provider and editor, rebuilt when the file changes. */
class DocEditor {
  constructor({ host, label, status, room, token, user }) {
    Object.assign(this, { host, label, status, room, token, user });
    this.session = null;
    this.editor = null;
  }

  open(docName, lang) {
    this.editor?.destroy();
    this.session?.destroy();
    this.docName = docName;
    this.label.textContent = docName;
    this.session = openDoc({ room: this.room, doc: docName, token: this.token, user: this.user, onStatus: (state, reason) => {
      this.status.textContent = reason ? `${DOC_STATUS[state]}: ${reason}` : (DOC_STATUS[state] ?? state);
      this.status.dataset.state = state;
      if (state === "denied") this.editor?.setReadOnly(true);
    } });
    clear(this.host);
    this.editor = createEditor(this.host, this.session.ytext, { awareness: this.session.awareness, language: lang, label: `Code editor, ${docName}` });
    // A handle for end-to-end tests and for debugging from the console.
    window.classroom = { doc: this.session.ydoc, provider: this.session.provider, view: this.editor.view, docName };
  }

  /** Puts `text` in the document if it is empty once synced (an exercise's starter code). */
  seed(text) {
    const { provider, ytext } = this.session;
    const fill = () => {
      if (text && ytext.length === 0) ytext.insert(0, text);
    };
    if (provider.synced) fill();
    else provider.once("synced", fill);
  }
}

export async function bootRoom(boot) {
  const { token, user } = boot;
  const roomId = boot.room_id;
  useToken(token);
  const isInstructor = boot.role !== "student";
  let room = { id: roomId, kind: "lesson" };
  try {
    room = await api("GET", `/api/rooms/${roomId}`);
  } catch (error) {
    toast("Room details unavailable", error.message, "error");
  }
  const classroom = room.classroom_id ?? boot.classroom_id;
  setAssetBase(classroom);

  const explicitDoc = new URLSearchParams(location.search).get("doc");
  const stored = localStorage.getItem(`language:${roomId}`);
  let lang = explicitDoc && explicitDoc.includes(".") ? languageOfDoc(explicitDoc) : languageById(stored ?? "python");
  const select = $("#language");
  clear(select, LANGUAGES.map((l) => h("option", { value: l.id, selected: l.id === lang.id }, l.label)));
  const doc = new DocEditor({ host: $("#editor"), label: $("#doc-name"), status: $("#doc-status"), room: roomId, token, user });
  doc.open(explicitDoc ?? (await defaultDoc({ ...room, id: roomId }, user.id, isInstructor, lang)), lang);

  // Not paired yet: look again now and then, and move to the pair's file once there is one.
  if (room.kind === "pair" && !isInstructor && !explicitDoc && !doc.docName.startsWith("pairs/")) {
    const poll = setInterval(async () => {
      const shared = await pairDoc(roomId);
      if (shared === null) return;
      clearInterval(poll);
      toast("You are paired", `You now share ${shared} with your partner.`, "good");
      lang = languageOfDoc(shared);
      select.value = lang.id;
      doc.open(shared, lang);
    }, PAIR_POLL_MS);
  }

  const setLanguage = (next) => {
    lang = next;
    select.value = lang.id;
    localStorage.setItem(`language:${roomId}`, lang.id);
    // Each language keeps its own file; an explicitly opened document and the demo keep theirs.
    if (!explicitDoc && doc.docName !== "demo") doc.open(docWithLanguage(doc.docName, lang), lang);
    else doc.editor.setLanguage(lang);
  };
  select.addEventListener("change", () => setLanguage(languageById(select.value)));

  const events = new RoomEvents(roomId, token);
  const send = (message) => events.send(message);
  const output = new OutputPane($("#output"), send);
  const presence = new Presence($("#members"), isInstructor ? $("#hands") : null, { room: roomId, me: user.id, send: isInstructor ? send : null });
  presence.render();
  const board = new Leaderboard($("#leaderboard-body"), { me: user.id, nameOf: (id) => presence.members.get(String(id))?.name });

  let demos = [];
  if (isInstructor && classroom !== undefined) {
    demos = await api("GET", `/api/classrooms/${classroom}/demos`).then((d) => d?.demos ?? []).catch(() => []);
  }
  const exercise = new ExercisePanel($("#exercise"), {
    classroom,
    send,
    currentDoc: () => doc.docName,
    onPick: (ex) => {
      if (ex.language && ex.language !== lang.id && !explicitDoc) setLanguage(languageById(ex.language));
      // The starter is {file: text}: the file named like ours, else the first one. Only into
      // the student's own file: two partners seeding a shared one at once would both insert.
      const starter = ex.starter ?? {};
      const text = typeof starter === "string" ? starter : (starter[doc.docName.split("/").pop()] ?? Object.values(starter)[0]);
      if (text && doc.docName.startsWith(`students/${user.id}/`)) doc.seed(text);
    },
  });
  let demoEditor = null;
  const demo = new DemoPanel($("#demo"), {
    send,
    isInstructor,
    demos,
    onExercise: (id) => exercise.show(id),
    // A code step names its language: highlight the demo document (or, for the instructor
    // editing it, the main editor) accordingly.
    onCodeLanguage: (id) => (isInstructor ? doc.docName === "demo" && setLanguage(languageById(id)) : demoEditor?.setLanguage(languageById(id))),
    onHighlight: (ranges) => (isInstructor ? doc.docName === "demo" && doc.editor.highlight(ranges) : demoEditor?.highlight(ranges)),
  });
  if (!isInstructor) {
    // The instructor's live demo code, read-only for students.
    let demoDoc = null;
    demo.showCode((host) => {
      demoDoc = openDoc({ room: roomId, doc: "demo", token, user });
      demoEditor = createEditor(host, demoDoc.ytext, { awareness: demoDoc.awareness, readOnly: true, compact: true, language: LANGUAGES[0], label: "Demo code (read-only)" });
      demoDoc.ytext.observe(() => demo.showCodeHost(demoDoc.ytext.length > 0));
    }, () => {
      // Into the student's own file: appended when it has text, so nothing of theirs is lost.
      const code = demoDoc.ytext.toString();
      const mine = doc.session.ytext;
      mine.insert(mine.length, mine.length ? `\n${code}` : code);
      toast("Copied", `The demo code is now in ${doc.docName}.`, "good", 3000);
    });
  }

  // Run over the events socket; our own run.started carries the ref we sent.
  let runRef = null;
  let runs = 0;
  const run = () => {
    runRef = `run-${++runs}`;
    const command = { type: "run.start", doc: doc.docName, language: lang.id, ref: runRef };
    // During a demo step with a check, the run also checks the step.
    const step = isInstructor ? null : demo.checkStep();
    if (step !== null) command.demo_step = step;
    if (send(command)) output.error("Starting…");
    else output.error("Not connected: the run was not started. Try again in a moment.");
  };
  $("#run").addEventListener("click", run);
  $("#editor").addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      run();
    }
  });

  // Students raise hands; staff answer them (the button is only on a student's page).
  const handButton = $("#hand") ?? h("button");
  const syncHand = () => {
    const up = presence.myHand() !== null;
    handButton.textContent = up ? "Lower hand" : "Raise hand";
    handButton.setAttribute("aria-pressed", String(up));
  };
  handButton.addEventListener("click", () => {
    const up = presence.myHand() !== null;
    if (!send(up ? { type: "hand.lower" } : { type: "hand.raise", doc: doc.docName })) toast("Not connected", "Try again in a moment.", "error");
  });
  const onHand = (m) => {
    presence.hand(m);
    syncHand();
  };

  const mine = (id) => String(id) === String(user.id);
  const eventsStatus = $("#events-status");
  events
    .on("status", (state) => {
      eventsStatus.textContent = ROOM_STATUS[state] ?? state;
      eventsStatus.dataset.state = state;
    })
    .on("room.snapshot", (m) => {
      presence.snapshot(m.members ?? [], m.hands ?? []);
      syncHand();
      board.snapshot(m.leaderboard);
      demo.update(m.demo ?? null);
    })
    .on("member.joined", (m) => presence.joined(m))
    .on("member.left", (m) => presence.left(m))
    .on("demo.step", (m) => demo.update(m))
    .on("demo.stopped", () => demo.update(null))
    .on("demo.check", (m) => demo.checked(m))
    .on("demo.validation", (m) => isInstructor && demo.validation(m))
    .on("demo.paused", () => demo.paused(true))
    .on("demo.resumed", () => demo.paused(false))
    .on("demo.followers", (m) => isInstructor && demo.followers(m))
    .on("quiz.opened", (m) => demo.showQuiz(m))
    .on("quiz.state", (m) => demo.showQuiz(m))
    .on("quiz.tally", (m) => demo.showTally(m))
    .on("quiz.closed", (m) => demo.closeQuiz(m))
    .on("quiz.answered", (m) => demo.quizFeedback(m))
    .on("quiz.result", (m) => demo.quizFeedback(m))
    .on("run.started", (m) => {
      if ((runRef !== null && m.ref === runRef) || m.run_id === output.runId) output.started(m);
    })
    .on("run.output", (m) => output.output(m))
    .on("run.chunks", (m) => output.chunks(m))
    .on("run.finished", (m) => output.finished(m))
    .on("submission.accepted", (m) => exercise.accepted(m))
    .on("grade.result", (m) => mine(m.submission?.user_id) && exercise.graded(m))
    .on("exercise.opened", (m) => {
      toast("Exercise open", m.title ?? m.exercise_id, "info");
      exercise.show(m.exercise_id);
    })
    .on("leaderboard.update", (m) => board.update(m))
    .on("xp.awarded", (m) => {
      const badge = $("#xp");
      if (!badge || !mine(m.user_id)) return;
      badge.hidden = false;
      badge.textContent = `${m.total} XP${m.streak ? ` · ${m.streak}-day streak` : ""}`;
      toast(`+${m.amount} XP`, (m.awards ?? []).map((a) => a.reason.replaceAll("_", " ")).join(", "), "good", 4000);
    })
    .on("achievement.unlocked", (m) => {
      const a = m.achievement ?? {};
      if (mine(m.user_id)) toast(`Achievement unlocked: ${a.name ?? a.id}`, a.description ?? "", "good", 8000);
      else toast(`${m.name ?? "Someone"} unlocked ${a.name ?? a.id}`, "", "info", 4000);
    })
    .on("hand.raised", onHand)
    .on("hand.lowered", onHand)
    .on("hand.taken", onHand)
    .on("hand.done", onHand)
    .on("error", (m) => {
      if (m.ref !== undefined && m.ref === runRef) output.error(m.message ?? "The run was refused.");
      else if (!exercise.refused(m)) toast("Problem", m.message ?? String(m.code ?? "error"), "error");
    });
  attachLesson(events, { room: roomId, me: user.id, role: boot.role, doc, send, nameOf: (id) => presence.members.get(String(id))?.name });
  events.connect();
}
