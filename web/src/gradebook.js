// The gradebook page (staff): every student against every exercise, the best or the latest
// attempt per cell as the instructor chooses, with the maxima the students see; the export
// links follow the choice. The table scrolls inside its own box, never the page.
import { h, $, clear } from "./dom.js";
import { api } from "./api.js";

function fmt(value) {
  return typeof value === "number" ? String(Math.round(value * 100) / 100) : "";
}

function cell(grade, exercise) {
  if (grade.status === "not attempted") return h("td", { class: "missing" }, "—", h("span", { class: "sr-only" }, " not attempted"));
  if (grade.status !== "graded") return h("td", { class: "missing" }, grade.status);
  const shown = `${fmt(grade.shown_score)} / ${fmt(grade.shown_max_score)}`;
  const full = grade.max_score !== grade.shown_max_score ? h("span", { class: "sub" }, `final ${fmt(grade.score)} / ${fmt(grade.max_score)}`) : null;
  const attempts = h("span", { class: "sub" }, `attempt ${grade.attempt} of ${grade.attempts}`);
  const perfect = grade.shown_score !== null && grade.shown_score === grade.shown_max_score;
  return h("td", { class: perfect ? "full" : null, title: exercise.title }, shown, full, attempts);
}

async function render(classroom, keep) {
  const root = $("#gradebook");
  let sheet;
  try {
    sheet = await api("GET", `/api/classrooms/${classroom}/gradebook?keep=${keep}`);
  } catch (error) {
    clear(root, h("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  $("#export-csv").href = `/api/classrooms/${classroom}/grades.csv?keep=${keep}`;
  $("#export-json").href = `/api/classrooms/${classroom}/grades.json?keep=${keep}`;
  if (sheet.exercises.length === 0 || sheet.students.length === 0) {
    clear(root, h("p", { class: "muted" }, sheet.exercises.length ? "No students yet." : "No exercises yet: import a course from the dashboard."));
    return;
  }
  clear(root, h("table", { class: "gradebook" },
    h("caption", { class: "sr-only" }, `Grades, ${keep} attempt per exercise`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Student"),
      sheet.exercises.map((ex) => h("th", { scope: "col" }, ex.title, h("span", { class: "sub" }, `out of ${fmt(ex.shown_max_score)}`))))),
    h("tbody", {}, sheet.students.map((student) => h("tr", {},
      h("th", { scope: "row" }, student.name),
      sheet.exercises.map((ex) => cell(student.grades[ex.id], ex)))))));
}

export async function bootGradebook(boot) {

  const form = $("#gradebook-options");
  const keep = () => form.elements.namedItem("keep").value;
  form.addEventListener("change", () => render(boot.classroom_id, keep()));
  await render(boot.classroom_id, keep());
}
