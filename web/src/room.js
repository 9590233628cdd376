// The room page, for students and instructors: an editor bound to the caller's document, the
// run button and output pane, and the demo, exercise, leaderboard and presence panels, all fed
// by the room events socket.
import { h, $, clear } from "./dom.js";
import { api } from "./api.js";
import { openDoc } from "./collab.js";
import { createEditor } from "./editor.js";
import { LANGUAGES, languageById, languageOfDoc, docWithLanguage, exerciseFile } from "./languages.js";
import { RoomEvents } from "./events.js";
import { OutputPane } from "./output.js";
import { DemoPanel } from "./demo.js";
import { ExercisePanel } from "./exercise.js";
import { Presence } from "./presence.js";
import { Leaderboard } from "./leaderboard.js";
import { toast } from "./toasts.js";
import { HelpPanel } from "./help.js";
import { CommentsPanel } from "./comments.js";
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
  constructor({ host, label, status, room, user, describe = (name) => name }) {
    Object.assign(this, { host, label, status, room, user, describe });
    this.session = null;
    this.editor = null;
  }

  open(docName, lang) {
    this.editor?.destroy();
    this.session?.destroy();
    this.docName = docName;
    this.lang = lang;
    this.label.textContent = this.describe(docName);
    this.label.dataset.doc = docName;
    this.session = openDoc({ room: this.room, doc: docName, user: this.user, onStatus: (state, reason) => {
      this.status.textContent = reason ? `${DOC_STATUS[state]}: ${reason}` : (DOC_STATUS[state] ?? state);
      this.status.dataset.state = state;
      if (state === "denied") this.editor?.setReadOnly(true);
    } });
    clear(this.host);
    this.editor = createEditor(this.host, this.session.ytext, { awareness: this.session.awareness, language: lang, label: `Code editor, ${docName}` });
    // A handle for end-to-end tests and for debugging from the console.
    window.classroom = { doc: this.session.ydoc, provider: this.session.provider, view: this.editor.view, docName };
    this.onOpen?.(docName, this.editor, this.session);
  }

  /** Calls `fn(ytext)` once the open document is synced (at once if it is). */
  whenSynced(fn) {
    const { provider, ytext } = this.session;
    if (provider.synced) fn(ytext);
    else provider.once("synced", () => fn(ytext));
  }

  /** Puts `text` in the document if it is empty once synced (an exercise's starter code):
   * typed work is never overwritten. */
  seed(text) {
    this.whenSynced((ytext) => {
      if (text && ytext.length === 0) ytext.insert(0, text);
    });
  }
}

export async function bootRoom(boot) {
  const { user } = boot;
  const roomId = boot.room_id;
  const isInstructor = boot.role !== "student";
  let room = { id: roomId, kind: "lesson" };
  try {
    room = await api("GET", `/api/rooms/${roomId}`);
  } catch (error) {
    toast("Room details unavailable", error.message, "error");
  }
  const classroom = room.classroom_id ?? boot.classroom_id;
  setAssetBase(classroom);

  document.body.dataset.role = isInstructor ? "staff" : "student";
  const names = new Map((room.members ?? []).map((m) => [String(m.id ?? m.user_id), m.name]));
  /** What the editor header says: a student's own file by its name; for staff, whose it is. */
  const describe = (name) => {
    const [kind, owner, file] = name.split("/");
    if (name === "demo") return isInstructor ? "Demo (the class sees this)" : "Demo";
    if (kind === "students") return String(owner) === String(user.id) ? file : `${names.get(owner) ?? `Student ${owner}`}'s ${file}`;
    if (kind === "pairs") return isInstructor ? `Pair ${owner}: ${file}` : `${file} (shared with your partner)`;
    return name;
  };

  const explicitDoc = new URLSearchParams(location.search).get("doc");
  const stored = localStorage.getItem(`language:${roomId}`);
  let lang = explicitDoc && explicitDoc.includes(".") ? languageOfDoc(explicitDoc) : languageById(stored ?? "python");
  const select = $("#language");
  clear(select, LANGUAGES.map((l) => h("option", { value: l.id, selected: l.id === lang.id }, l.label)));
  const doc = new DocEditor({ host: $("#editor"), label: $("#doc-name"), status: $("#doc-status"), room: roomId, user, describe });

  // The file picker: the caller's own files (and the pair's), the open one, and "New file…".
  const fileSelect = $("#file-select");
  const known = new Set();
  const NEW_FILE = "\u0000new";
  const drawFiles = () => {
    const shown = [...known].sort();
    clear(fileSelect, shown.map((name) => h("option", { value: name, selected: name === doc.docName }, describe(name))),
      isInstructor ? null : h("option", { value: NEW_FILE }, "New file…"));
  };
  const openFile = (name) => {
    lang = languageOfDoc(name);
    select.value = lang.id;
    known.add(name);
    doc.open(name, lang);
    drawFiles();
  };
  const listFiles = async () => {
    const { documents = [] } = await api("GET", `/api/rooms/${roomId}/docs`).catch(() => ({}));
    for (const d of documents) {
      if (d.access !== "write") continue;
      if ((d.kind === "students" && d.name.startsWith(`students/${user.id}/`)) || d.kind === "pairs") known.add(d.name);
    }
    drawFiles();
  };
  openFile(explicitDoc ?? (await defaultDoc({ ...room, id: roomId }, user.id, isInstructor, lang)));
  if (!isInstructor) listFiles();
  const newFileForm = $("#new-file");
  fileSelect.addEventListener("change", () => {
    if (fileSelect.value === NEW_FILE) {
      fileSelect.value = doc.docName;
      newFileForm.hidden = false;
      $("#new-file-name").focus();
      return;
    }
    openFile(fileSelect.value);
  });
  $("#new-file-cancel").addEventListener("click", () => { newFileForm.hidden = true; });
  newFileForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("#new-file-name");
    const name = input.value.trim();
    const ext = name.slice(name.lastIndexOf(".") + 1);
    if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/.test(name) || !LANGUAGES.some((l) => l.ext === ext)) {
      input.setCustomValidity(`Use letters, digits, "_", "-" and "." and end with ${LANGUAGES.map((l) => `.${l.ext}`).join(", ")}`);
      input.reportValidity();
      return;
    }
    input.setCustomValidity("");
    newFileForm.hidden = true;
    input.value = "";
    const base = doc.docName.startsWith("pairs/") ? doc.docName.slice(0, doc.docName.lastIndexOf("/")) : `students/${user.id}`;
    openFile(`${base}/${name}`);
  });

  // Not paired yet: look again now and then, and move to the pair's file once there is one.
  if (room.kind === "pair" && !isInstructor && !explicitDoc && !doc.docName.startsWith("pairs/")) {
    const poll = setInterval(async () => {
      const shared = await pairDoc(roomId);
      if (shared === null) return;
      clearInterval(poll);
      toast("You are paired", `You now share ${shared.split("/").pop()} with your partner.`, "good");
      openFile(shared);
    }, PAIR_POLL_MS);
  }

  const setLanguage = (next) => {
    lang = next;
    select.value = lang.id;
    localStorage.setItem(`language:${roomId}`, lang.id);
    // Each language keeps its own file; an explicitly opened document and the demo keep theirs.
    if (!explicitDoc && doc.docName !== "demo") openFile(docWithLanguage(doc.docName, lang));
    else doc.editor.setLanguage(lang);
  };
  select.addEventListener("change", () => setLanguage(languageById(select.value)));

  const events = new RoomEvents(roomId);
  const send = (message) => events.send(message);
  const output = new OutputPane($("#output"), send);
  const presence = new Presence($("#members"), isInstructor ? $("#hands") : null, { room: roomId, me: user.id, send: isInstructor ? send : null });
  presence.render();
  const board = new Leaderboard($("#leaderboard-body"), { me: user.id, nameOf: (id) => presence.members.get(String(id))?.name });

  let demos = [];
  if (isInstructor && classroom !== undefined) {
    demos = await api("GET", `/api/classrooms/${classroom}/demos`).then((d) => d?.demos ?? []).catch(() => []);
  }
  let help = null;
  const exercise = new ExercisePanel($("#exercise"), {
    classroom,
    room: roomId,
    me: user.id,
    send,
    currentDoc: () => doc.docName,
    currentText: () => doc.session.ytext.toString(),
    onPick: (ex) => {
      help?.load(ex.id);
      // One file per exercise, in the exercise's language: opened (and named on the page),
      // never switched under the student's typing. Staff and explicitly opened files stay.
      if (isInstructor || explicitDoc) return;
      const exLang = languageById(ex.language ?? lang.id);
      const file = exerciseFile(ex, exLang);
      const base = doc.docName.startsWith("pairs/") ? doc.docName.slice(0, doc.docName.lastIndexOf("/")) : `students/${user.id}`;
      const target = `${base}/${file}`;
      if (doc.docName !== target) openFile(target);
      exercise.showFile(file, exLang.label);
      // The starter is {file: text}: the file named like ours, else the first one. Only into
      // the student's own file: two partners seeding a shared one at once would both insert.
      const starter = ex.starter ?? {};
      const text = typeof starter === "string" ? starter : (starter[file] ?? Object.values(starter)[0]);
      if (text && target.startsWith(`students/${user.id}/`)) doc.seed(text);
    },
  });
  // The cockpit's parts of the room: inline comments on the open file, the student's help.
  const panel = (id) => {
    const section = h("section", { id, class: "card" });
    $("#exercise").after(section);
    return section;
  };
  const comments = new CommentsPanel(panel("comments"), { roomId, events });
  doc.onOpen = (name, editor, session) => comments.attach(name, editor, session);
  doc.onOpen(doc.docName, doc.editor, doc.session);
  if (!isInstructor) help = new HelpPanel(panel("help"), { roomId, events, exerciseId: () => exercise.current?.id ?? null });
  let demoEditor = null;
  let demoLang = LANGUAGES[0];
  const demo = new DemoPanel($("#demo"), {
    send,
    isInstructor,
    demos,
    onExercise: (id) => exercise.show(id),
    // A code step names its language: highlight the demo document (or, for the instructor
    // editing it, the main editor) accordingly.
    onCodeLanguage: (id) => {
      demoLang = languageById(id);
      if (isInstructor) doc.docName === "demo" && doc.editor.setLanguage(demoLang);
      else demoEditor?.setLanguage(demoLang);
    },
    onHighlight: (ranges) => (isInstructor ? doc.docName === "demo" && doc.editor.highlight(ranges) : demoEditor?.highlight(ranges)),
  });
  if (!isInstructor) {
    // The instructor's live demo code, read-only for students.
    let demoDoc = null;
    demo.showCode((host) => {
      demoDoc = openDoc({ room: roomId, doc: "demo", user });
      demoEditor = createEditor(host, demoDoc.ytext, { awareness: demoDoc.awareness, readOnly: true, compact: true, language: LANGUAGES[0], label: "Demo code (read-only)" });
      demoDoc.ytext.observe(() => demo.showCodeHost(demoDoc.ytext.length > 0));
    }, () => {
      // Into the student's own file: appended when it has text, so nothing of theirs is lost;
      // Python demo code never goes into a C file: it goes to main.py, and the page says so.
      const code = demoDoc.ytext.toString();
      if (demoLang.id !== languageOfDoc(doc.docName).id || !doc.docName.startsWith(`students/${user.id}/`)) {
        openFile(`students/${user.id}/main.${demoLang.ext}`);
      }
      doc.whenSynced((mine) => {
        mine.insert(mine.length, mine.length ? `\n${code}` : code);
        toast("Copied", `The demo code is now in ${describe(doc.docName)}.`, "good", 3000);
      });
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
    if (send(command)) {
      output.error("Starting…");
      output.reveal();
    }
    else output.error("Not connected: the run was not started. Try again in a moment.");
  };
  $("#run").addEventListener("click", run);
  $("#editor").addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      run();
    }
  });

  // Students raise hands (with an optional message) and see what happens to them; staff
  // answer them (the form is only on a student's page).
  const handButton = $("#hand") ?? h("button");
  const handForm = $("#hand-form");
  const handInput = $("#hand-message");
  const handStatus = $("#hand-status") ?? h("p");
  const showHand = (state, text) => {
    handStatus.hidden = !text;
    handStatus.textContent = text ?? "";
    handStatus.dataset.state = state ?? "";
  };
  const syncHand = () => {
    const hand = presence.myHand();
    const up = hand !== null;
    handButton.textContent = up ? "Lower hand" : "Raise hand";
    handButton.setAttribute("aria-pressed", String(up));
    if (handInput) handInput.hidden = up;
    if (hand?.state === "taken") showHand("taken", `${hand.taken_by?.name ?? "A teacher"} is coming to help you.`);
    else if (hand) showHand("pending", `Your hand is up${hand.message ? `: “${hand.message}”` : ""}. A teacher will come.`);
  };
  handForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    const up = presence.myHand() !== null;
    const message = handInput?.value.trim() ?? "";
    const command = up ? { type: "hand.lower" } : { type: "hand.raise", doc: doc.docName, ...(message ? { message } : {}) };
    if (!send(command)) toast("Not connected", "Try again in a moment.", "error");
    else if (!up && handInput) handInput.value = "";
  });
  const onHand = (m) => {
    presence.hand(m);
    const hand = m.hand ?? m;
    if (!isInstructor && String(hand.user?.id) === String(user.id)) {
      if (hand.state === "done") showHand("done", `${hand.taken_by?.name ?? "Your teacher"} marked your question as answered.`);
      else if (hand.state === "lowered") showHand(null, null);
    }
    syncHand();
  };

  const mine = (id) => String(id) === String(user.id);
  // The student's achievements stay listed on the page (from the snapshot, then as unlocked).
  const listAchievements = (items) => {
    const list = $("#achievements");
    if (!list || items.length === 0) return;
    list.querySelector(".muted")?.remove();
    const have = new Set([...list.children].map((li) => li.dataset.id));
    for (const a of items) {
      if (have.has(String(a.id))) continue;
      list.append(h("li", { dataset: { id: String(a.id) } }, h("strong", {}, a.name ?? a.id), a.description ? ` — ${a.description}` : ""));
    }
  };
  const eventsStatus = $("#events-status");
  // Their commands go only over a live socket (events.js): the buttons wait for it, so a click
  // made while the page is still connecting is not lost to a "Not connected" message.
  const needSocket = [$("#run"), handButton];
  events
    .on("status", (state) => {
      eventsStatus.textContent = ROOM_STATUS[state] ?? state;
      eventsStatus.dataset.state = state;
      for (const button of needSocket) button.disabled = state !== "connected";
    })
    .on("room.snapshot", (m) => {
      presence.snapshot(m.members ?? [], m.hands ?? []);
      syncHand();
      board.snapshot(m.leaderboard);
      demo.update(m.demo ?? null);
      if (Array.isArray(m.achievements)) listAchievements(m.achievements);
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
      toast(`+${m.amount} XP`, (m.awards ?? []).map((a) => a.reason.replaceAll("_", " ")).join(", "), "good", 3000);
    })
    .on("achievement.unlocked", (m) => {
      // Only one's own: a classmate's achievement is theirs to enjoy, not a notice for all.
      if (!mine(m.user_id)) return;
      const a = m.achievement ?? {};
      listAchievements([a]);
      toast(`Achievement unlocked: ${a.name ?? a.id}`, a.description ?? "", "good", 6000);
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
