// The projector page (/rooms/{id}/projector): the spotlighted file, read-only and live, in
// large type, with the announcement, the countdown and the freeze. It follows the room's
// events socket; a spotlight change swaps the document at once.
import { $, clear } from "./dom.js";

import { openDoc } from "./collab.js";
import { createEditor } from "./editor.js";
import { languageOfDoc } from "./languages.js";
import { RoomEvents } from "./events.js";
import { LessonBanner } from "./lesson.js";

export async function bootProjector(boot) {
  const { user } = boot;
  const room = boot.room_id;
  const title = $("#projector-title");
  const host = $("#projector-editor");
  const roomTitle = title.textContent;
  let current = null; // {doc, session, editor}

  const show = (spotlight) => {
    if (current && spotlight && current.doc === spotlight.doc) {
      title.textContent = spotlight.name ?? "A student's code";
      return;
    }
    current?.editor.destroy();
    current?.session.destroy();
    current = null;
    clear(host);
    if (!spotlight) {
      title.textContent = roomTitle;
      document.body.dataset.spotlight = "";
      return;
    }
    title.textContent = spotlight.show_name === false ? "A student's code" : (spotlight.name ?? spotlight.doc);
    const session = openDoc({ room, doc: spotlight.doc, user, watch: true });
    const editor = createEditor(host, session.ytext, { awareness: session.awareness, readOnly: true, language: languageOfDoc(spotlight.doc), label: `Spotlight: ${title.textContent}` });
    current = { doc: spotlight.doc, session, editor };
    document.body.dataset.spotlight = spotlight.doc;
    window.classroom = { view: editor.view, docName: spotlight.doc };
  };

  const banner = new LessonBanner({
    announcement: $("#projector-announcement"),
    countdown: $("#projector-countdown"),
    freeze: $("#projector-freeze"),
  });
  new RoomEvents(room)
    .on("room.snapshot", (m) => {
      banner.snapshot(m.lesson);
      show(m.lesson?.spotlight ?? null);
    })
    .on("lesson.spotlight", (m) => show(m.spotlight))
    .on("lesson.announcement", (m) => banner.announce(m))
    .on("lesson.countdown", (m) => banner.countdown(m.countdown))
    .on("lesson.frozen", (m) => banner.frozen(m))
    .on("lesson.unfrozen", () => banner.frozen(null))
    .connect();
}
