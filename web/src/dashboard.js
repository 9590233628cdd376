// The instructor dashboard: classrooms (join code large enough for a projector), their rooms,
// course import, grade export, students (students.js); with ?room=ID, the live view of that room (live.js).
import { h, $, clear } from "./dom.js";
import { api, useToken } from "./api.js";
import { bootLive } from "./live.js";
import { studentsPanel } from "./students.js";
import { toast } from "./toasts.js";

export async function bootDashboard(boot) {
  useToken(boot.token);
  const live = new URLSearchParams(location.search).get("room");
  $("#new-classroom").addEventListener("submit", (event) => createClassroom(event, boot));
  await renderClassrooms(boot);
  if (live) await bootLive(boot, Number(live));
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
  const importForm = h("form", { class: "row", onsubmit: (event) => importCourse(event, id) },
    h("label", { for: `course-${id}` }, "Import course (.zip or .tar.gz)"),
    h("input", { id: `course-${id}`, name: "file", type: "file", required: true, accept: ".zip,.tar.gz,.tgz" }),
    h("button", { type: "submit", class: "secondary" }, "Import"));
  return h("article", { class: "card classroom", dataset: { classroomId: id } },
    h("header", { class: "panel-head" }, h("h2", {}, classroom.title),
      h("button", { type: "button", class: "secondary", onclick: () => project(classroom) }, "Show join code")),
    classroom.join_code ? h("p", { class: "join-code", "aria-label": `Join code ${classroom.join_code.split("").join(" ")}`, "data-testid": "join-code" }, classroom.join_code) : null,
    h("ul", { class: "room-links" }, rooms.map((room) => h("li", {},
      h("strong", {}, room.title), ` (${room.kind}) `,
      h("a", { href: `/dashboard?room=${room.id}` }, "Live view"), " · ",
      h("a", { href: `/rooms/${room.id}` }, "Enter room")))),
    roomForm, importForm,
    h("p", {}, h("a", { href: `/api/classrooms/${id}/grades.csv`, download: "" }, "Export grades (CSV)"), " · ",
      h("a", { href: `/api/classrooms/${id}/grades.json`, download: "" }, "Export grades (results.json)")),
    studentsPanel(classroom));
}

async function importCourse(event, classroom) {
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
    toast("Import failed", error.message, "error");
  }
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
