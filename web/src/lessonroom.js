// The lesson in the room page: the banner (announcement, countdown, freeze), the student's
// editor rules (frozen, driver or navigator), moving a student to their pair's file, and the
// instructor's lesson panel. One hook, so the room page itself barely changes.
import { $ } from "./dom.js";
import { LessonBanner, LessonRules } from "./lesson.js";
import { LessonControls } from "./lessoncontrols.js";
import { languageOfDoc } from "./languages.js";
import { toast } from "./toasts.js";

export function attachLesson(events, { room, me, role, doc, send, nameOf }) {
  const banner = new LessonBanner({ announcement: $("#lesson-announcement"), countdown: $("#lesson-countdown"), freeze: $("#lesson-freeze") });
  const student = role === "student";
  const rules = student ? new LessonRules({ me, editor: () => doc }) : null;
  if (rules) rules.roleEl = $("#lesson-pair-role");
  const host = $("#lesson-controls");
  const controls = host
    ? new LessonControls(host, { room, send, nameOf, docName: () => doc.docName, docText: () => doc.session.ytext.toString() })
    : null;
  // Open the pair's file (same file name as the current one) once paired.
  const follow = (pair) => {
    if (!student || !pair) return;
    const file = doc.docName.split("/").at(-1) || "main.py";
    const target = `pairs/${pair.group}/${file}`;
    if (doc.docName !== target) doc.open(target, languageOfDoc(target));
  };
  // doc.open rebuilds the editor: re-apply the rules after each open.
  const open = doc.open.bind(doc);
  doc.open = (name, lang) => {
    open(name, lang);
    rules?.apply();
  };
  events
    .on("room.snapshot", (m) => {
      banner.snapshot(m.lesson);
      rules?.snapshot(m.lesson);
      follow(m.lesson?.pair);
      controls?.pairs(m.lesson?.pairs);
      controls?.points(m.leaderboard?.room?.entries);
    })
    .on("leaderboard.update", (m) => m.board !== "weekly" && controls?.points(m.entries))
    .on("lesson.announcement", (m) => banner.announce(m))
    .on("lesson.countdown", (m) => banner.countdown(m.countdown))
    .on("lesson.frozen", (m) => {
      banner.frozen(m);
      rules?.frozen(true);
    })
    .on("lesson.unfrozen", () => {
      banner.frozen(null);
      rules?.frozen(false);
    })
    .on("lesson.spotlight", (m) => {
      if (m.spotlight && student && String(m.spotlight.user_id) === String(me)) toast("Your code is on the projector", "", "info", 5000);
    })
    .on("pairs.yours", (m) => {
      const fresh = !rules?.pair || rules.pair.group !== m.group;
      rules?.paired(m);
      if (fresh) {
        toast("You are paired", `Group ${m.group}`, "good");
        follow(m);
      }
    })
    .on("pairs.updated", (m) => controls?.pairs(m))
    .on("lesson.done", (m) => controls?.done(m))
    .on("lesson.pushed", (m) => controls?.done(m));
}
