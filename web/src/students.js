// A classroom's students on the dashboard: roster import (the personal codes to hand out),
// roster-only joining, rename, a new code, merging two accounts of one student, removing one
// from the classroom, and, for a classroom that came from an LMS, where each grade stands in
// the LMS gradebook.
import { h, clear } from "./dom.js";
import { api } from "./api.js";
import { toast } from "./toasts.js";

export function studentsPanel(classroom) {
  const body = h("div", { class: "stack" }, h("p", { class: "muted" }, "Loading…"));
  const panel = h("details", { class: "students", dataset: { testid: `students-${classroom.id}` } },
    h("summary", {}, "Students, roster and LMS"), body);
  panel.addEventListener("toggle", () => { if (panel.open) render(classroom.id, body); });
  return panel;
}

async function render(id, body, fresh = []) {
  let members, roster;
  try {
    [{ members }, roster] = await Promise.all([
      api("GET", `/api/classrooms/${id}/members`),
      api("GET", `/api/classrooms/${id}/roster`),
    ]);
  } catch (error) {
    clear(body, h("p", { class: "error" }, error.message));
    return;
  }
  const students = members.filter((m) => m.role === "student");
  const codes = h("div", { "aria-live": "polite" });
  const rerender = (codesToShow = []) => render(id, body, codesToShow);
  clear(body,
    rosterForm(id, rerender),
    codes,
    policyToggle(id, roster.roster_required),
    h("table", { class: "students-table" },
      h("caption", {}, `${students.length} students`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Rename"),
        h("th", { scope: "col" }, "Personal code"), h("th", { scope: "col" }, "Same person as"),
        h("th", { scope: "col" }, "Remove"))),
      h("tbody", {}, students.map((s) => studentRow(id, s, students, codes, rerender)))),
    await lmsSection(id));
  showCodes(codes, fresh);
}

function rosterForm(id, rerender) {
  const form = h("form", { class: "row", onsubmit: async (event) => {
    event.preventDefault();
    const file = form.elements.namedItem("roster").files[0];
    if (!file) return;
    try {
      const { students } = await api("POST", `/api/classrooms/${id}/roster`, new Blob([await file.text()], { type: "text/csv" }));
      const fresh = students.filter((s) => s.code);
      toast("Roster imported", `${students.length} students, ${fresh.length} new`, "good");
      await rerender(fresh);
    } catch (error) {
      toast("Roster refused", error.message, "error");
    }
  } },
    h("label", { for: `roster-${id}` }, "Import roster (CSV: name, email, student_id)"),
    h("input", { id: `roster-${id}`, name: "roster", type: "file", accept: ".csv,text/csv", required: true }),
    h("button", { type: "submit", class: "secondary" }, "Import roster"));
  return form;
}

/** New personal codes, shown once: print them and hand them out. */
function showCodes(root, students) {
  if (!students.length) return;
  clear(root, h("table", { class: "codes", "data-testid": "new-codes" },
    h("caption", {}, "Personal codes (shown once: print or copy them now)"),
    h("tbody", {}, students.map((s) => h("tr", {}, h("th", { scope: "row" }, s.name), h("td", { class: "code-input" }, s.code))))));
}

function policyToggle(id, required) {
  const box = h("input", { type: "checkbox", id: `roster-only-${id}`, checked: required });
  box.addEventListener("change", async () => {
    try {
      await api("PUT", `/api/classrooms/${id}/join-policy`, { roster_required: box.checked });
      toast(box.checked ? "Roster only" : "Open to the join code", "", "good");
    } catch (error) {
      box.checked = !box.checked;
      toast("Not changed", error.message, "error");
    }
  });
  return h("p", {}, box, " ", h("label", { for: `roster-only-${id}` }, "Only students on the roster may join"));
}

function studentRow(id, student, students, codes, rerender) {
  const name = h("input", { value: student.name, maxlength: 80, "aria-label": `New name for ${student.name}` });
  const rename = h("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      await api("POST", `/api/classrooms/${id}/students/${student.id}/rename`, { name: name.value });
      await rerender();
    } catch (error) {
      toast("Not renamed", error.message, "error");
    }
  } }, "Rename");
  const code = h("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      const issued = await api("POST", `/api/classrooms/${id}/students/${student.id}/rejoin-code`);
      showCodes(codes, [{ name: student.name, code: issued.code }]);
    } catch (error) {
      toast("No code", error.message, "error");
    }
  } }, "New code");
  const others = students.filter((s) => s.id !== student.id);
  const target = h("select", { "aria-label": `Merge ${student.name} into` },
    h("option", { value: "" }, "—"), others.map((s) => h("option", { value: s.id }, `${s.name} (#${s.id})`)));
  const merge = h("button", { type: "button", class: "secondary", onclick: async () => {
    if (!target.value) return;
    try {
      const done = await api("POST", `/api/classrooms/${id}/merge`, { from_user_id: student.id, into_user_id: Number(target.value) });
      toast("Accounts merged", `${done.from_name} is now part of #${done.into_user_id}`, "good");
      await rerender();
    } catch (error) {
      toast("Not merged", error.message, "error");
    }
  } }, "Merge");
  return h("tr", {}, h("th", { scope: "row" }, `${student.name} (#${student.id})`),
    h("td", {}, name, " ", rename), h("td", {}, code), h("td", {}, target, " ", merge),
    h("td", {}, removeButton(id, student, rerender)));
}

/** Out of the classroom (a fake classmate, a student who left): two clicks, the second within
 * a few seconds, so a stray tap removes no one. Their work is kept on the server. */
function removeButton(id, student, rerender) {
  let armed = null;
  const button = h("button", { type: "button", class: "secondary", "aria-label": `Remove ${student.name}`, onclick: async () => {
    if (!armed) {
      button.textContent = "Confirm removal";
      armed = setTimeout(() => { armed = null; button.textContent = "Remove"; }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    try {
      await api("DELETE", `/api/classrooms/${id}/members/${student.id}`);
      toast("Removed from the classroom", `${student.name}: their work is kept`, "good");
      await rerender();
    } catch (error) {
      button.textContent = "Remove";
      toast("Not removed", error.message, "error");
    }
  } }, "Remove");
  return button;
}

async function lmsSection(id) {
  let grades;
  try {
    ({ grades } = await api("GET", `/api/classrooms/${id}/lti/grades`));
  } catch {
    return null; // not a classroom from an LMS
  }
  const sync = h("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      const counts = await api("POST", `/api/classrooms/${id}/lti/roster-sync`);
      toast("Roster synced from the LMS", `${counts.active} active, ${counts.removed} removed`, "good");
    } catch (error) {
      toast("Sync failed", error.message, "error");
    }
  } }, "Sync roster from the LMS");
  return h("section", {}, h("h3", {}, "LMS gradebook"), sync,
    grades.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Student", "Exercise", "Score", "Status"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, grades.map((g) => h("tr", {}, h("td", {}, `#${g.user_id}`), h("td", {}, g.exercise_id),
          h("td", {}, `${g.score} / ${g.max_score}`), h("td", { title: g.last_error ?? "" }, g.status)))))
      : h("p", { class: "muted" }, "No grade sent yet."));
}
