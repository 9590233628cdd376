// The instructor dashboard: classrooms (join code large enough for a projector), their rooms,
// the loaded course and the last import (errors kept until the next import), the gradebook,
// students, roster and LMS (students.js); with ?room=ID, the lesson bar and the live view (live.js).
import { h, $, clear } from "./dom.js";
import { api } from "./api.js";
import { bootLive } from "./live.js";
import { bootIntegrity } from "./integrity.js";
import { studentsPanel } from "./students.js";
import { toast } from "./toasts.js";

export async function bootDashboard(boot) {
  const live = new URLSearchParams(location.search).get("room");
  $("#new-classroom").addEventListener("submit", (event) => createClassroom(event, boot));
  await renderClassrooms(boot);
  if (live) await bootLive(boot, Number(live));
  const integrity = new URLSearchParams(location.search).get("integrity");
  if (integrity) await bootIntegrity(boot, Number(integrity));
}

async function createClassroom(event, boot) {
  event.preventDefault();
  const form = event.currentTarget;
  const title = form.elements.namedItem("title");
  try {
    await api("POST", "/api/classrooms", { title: title.value.trim() });
    title.value = "";
    await renderClassrooms(boot);
  } catch (error) {
    toast("Could not create the classroom", error.message, "error");
  }
}

async function renderClassrooms(boot) {
  const root = $("#classrooms");
  let classrooms;
  try {
    ({ classrooms } = await api("GET", "/api/classrooms"));
  } catch (error) {
    clear(root, h("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  const cards = [];
  for (const classroom of classrooms.filter((c) => c.role !== "student")) {
    cards.push(await classroomCard(classroom, boot));
  }
  clear(root, cards.length ? cards : h("p", { class: "muted" }, "No classrooms yet: create one above."));
}

async function classroomCard(classroom, boot) {
  const { rooms } = await api("GET", `/api/classrooms/${classroom.id}/rooms`).catch(() => ({ rooms: [] }));
  const id = classroom.id;
  const roomForm = h("form", { class: "row", onsubmit: async (event) => {
    event.preventDefault();
    const title = roomForm.elements.namedItem("title").value.trim();
    const kind = roomForm.elements.namedItem("kind").value;
    try {
      await api("POST", `/api/classrooms/${id}/rooms`, { title, kind });
      await renderClassrooms(boot);
    } catch (error) {
      toast("Could not create the room", error.message, "error");
    }
  } },
    h("label", { for: `room-title-${id}` }, "New room"),
    h("input", { id: `room-title-${id}`, name: "title", required: true, maxlength: 120, placeholder: "Lesson 1" }),
    h("label", { for: `room-kind-${id}`, class: "sr-only" }, "Kind"),
    h("select", { id: `room-kind-${id}`, name: "kind" }, h("option", { value: "lesson" }, "Lesson"), h("option", { value: "pair" }, "Pair")),
    h("button", { type: "submit" }, "Create room"));
  const course = h("section", { class: "course", "aria-label": `Course of ${classroom.title}` });
  const importForm = h("form", { class: "row", onsubmit: (event) => importCourse(event, id, course) },
    h("label", { for: `course-${id}` }, "Import course (.zip or .tar.gz)"),
    h("input", { id: `course-${id}`, name: "file", type: "file", required: true, accept: ".zip,.tar.gz,.tgz" }),
    h("button", { type: "submit", class: "secondary" }, "Import"));
  await renderCourse(course, id);
  return h("article", { class: "card classroom", dataset: { classroomId: id } },
    h("header", { class: "panel-head" }, h("h2", {}, classroom.title),
      h("button", { type: "button", class: "secondary", onclick: () => project(classroom) }, "Show join code")),
    classroom.join_code ? h("p", { class: "join-code", "aria-label": `Join code ${classroom.join_code.split("").join(" ")}`, "data-testid": "join-code" }, classroom.join_code) : null,
    h("div", { class: "classroom-grid" },
      h("div", {},
        h("h3", {}, "Rooms"),
        rooms.length ? h("ul", { class: "room-links" }, rooms.map((room) => h("li", {},
          h("strong", {}, room.title), ` (${room.kind}) `,
          h("a", { href: `/dashboard?room=${room.id}` }, "Live view"), " · ",
          h("a", { href: `/rooms/${room.id}` }, "Enter room")))) : h("p", { class: "muted" }, "No rooms yet."),
        roomForm),
      h("div", {}, course, importForm,
        h("p", {}, h("a", { href: `/classrooms/${id}/gradebook` }, "Gradebook"), " · ",
          h("a", { href: `/dashboard?integrity=${id}` }, "Academic integrity"), " · ",
          h("a", { href: `/api/classrooms/${id}/grades.csv`, download: "" }, "Export grades (CSV)")))),
    studentsPanel(classroom));
}

/** What the classroom holds (exercises, demos) and how the last import went. */
async function renderCourse(root, classroom) {
  let status;
  try {
    status = await api("GET", `/api/classrooms/${classroom}/course`);
  } catch (error) {
    clear(root, h("p", { class: "error" }, `Course unavailable: ${error.message}`));
    return;
  }
  const { exercises = [], demos = [], last_import: last = null } = status;
  const when = (iso) => new Date(iso).toLocaleString();
  let lastNode = h("p", { class: "muted" }, "No course imported yet.");
  if (last && !last.ok) {
    lastNode = h("div", { role: "alert", "data-testid": "import-errors" },
      h("p", { class: "error" }, h("strong", {}, `The last import (${when(last.at)}) was refused; nothing changed:`)),
      h("ul", { class: "import-errors" }, last.errors.map((line) => h("li", {}, line))));
  } else if (last) {
    const count = (list) => (list ?? []).filter((e) => e.status !== "unchanged").length;
    lastNode = h("p", { class: "muted", "data-testid": "import-ok" },
      `Last import ${when(last.at)}: ${count(last.report?.exercises)} exercises and ${count(last.report?.demos)} demos new or changed.`);
  }
  clear(root,
    h("h3", {}, "Course"),
    exercises.length || demos.length ? h("ul", { class: "course-list", "data-testid": "course" },
      exercises.map((e) => h("li", {}, h("strong", {}, e.title), ` — exercise, ${e.language}`)),
      demos.map((d) => h("li", {}, h("strong", {}, d.title), " — demo"))) : null,
    lastNode);
}

async function importCourse(event, classroom, courseRoot) {
  event.preventDefault();
  const form = event.currentTarget;
  const file = form.elements.namedItem("file").files[0];
  if (!file) return;
  try {
    const result = await api("POST", `/api/classrooms/${classroom}/course`, file);
    const count = (key) => (Array.isArray(result?.[key]) ? result[key].length : (result?.[key] ?? 0));
    toast("Course imported", `${count("exercises")} exercises, ${count("demos")} demos`, "good");
    form.reset();
  } catch (error) {
    toast("Import failed", "The errors are listed in the classroom's card.", "error");
  }
  await renderCourse(courseRoot, classroom);
}

/** The join code full screen, for the projector; Escape closes it. */
function project(classroom) {
  const dialog = h("dialog", { class: "projector", "aria-label": "Join code" },
    h("p", {}, `Join ${classroom.title} at ${location.origin}`),
    h("p", { class: "join-code huge" }, classroom.join_code ?? "—"),
    h("form", { method: "dialog" }, h("button", { type: "submit" }, "Close")));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
