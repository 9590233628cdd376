// The landing (join) and sign-in pages: call the JSON API, then POST /api/session so the server
// sets the HttpOnly cookie the pages are rendered from, then go on.
import { h, $, clear } from "./dom.js";
import { api, startSession, useToken } from "./api.js";

function busy(form, flag) {
  for (const el of form.querySelectorAll("button, input")) el.disabled = flag;
}

function showError(form, message) {
  const box = $(".form-error", form);
  box.textContent = message;
  box.hidden = !message;
  if (message) box.focus();
}

/** Where a student goes after joining: the room if the classroom has one, else the list. */
async function roomsOf(classroom) {
  const data = await api("GET", `/api/classrooms/${classroom.id}/rooms`);
  return data.rooms ?? [];
}

export function bootJoin(boot) {
  const form = $("#join-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError(form, "");
      busy(form, true);
      try {
        const field = (name) => form.elements.namedItem(name).value.trim();
        const body = { join_code: field("join_code").toUpperCase(), name: field("name") };
        const joined = await api("POST", "/api/join", body);
        useToken(joined.token);
        await startSession(joined.token);
        const rooms = await roomsOf(joined.classroom);
        const target = rooms.length === 1 ? `/rooms/${rooms[0].id}` : "/";
        if (joined.rejoin_code) showPersonalCode(joined.rejoin_code, target);
        else location.assign(target);
      } catch (error) {
        showError(form, error.message);
        busy(form, false);
      }
    });
  }
  const rejoin = $("#rejoin-form");
  if (rejoin) {
    rejoin.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError(rejoin, "");
      busy(rejoin, true);
      try {
        const code = rejoin.elements.namedItem("code").value.trim();
        const back = await api("POST", "/api/rejoin", { code });
        useToken(back.token);
        await startSession(back.token);
        const rooms = back.classrooms.length === 1 ? await roomsOf(back.classrooms[0]) : [];
        location.assign(rooms.length === 1 ? `/rooms/${rooms[0].id}` : "/");
      } catch (error) {
        showError(rejoin, error.message);
        busy(rejoin, false);
      }
    });
  }
  if (boot.token) listMyRooms(boot);
}

/** After joining: the student's personal code, to sign back in as themselves anywhere. */
function showPersonalCode(code, target) {
  for (const id of ["#join-form", "#rejoin-form"]) $(id).hidden = true;
  const box = $("#personal-code");
  const go = h("button", { type: "button" }, "Continue");
  go.addEventListener("click", () => location.assign(target));
  clear(box,
    h("h2", {}, "Your personal code"),
    h("p", { class: "code-input", "data-testid": "personal-code" }, code),
    h("p", {}, "Write it down. With it you sign back in as yourself, on any device, any day: "
      + "your work, XP and streak stay yours."),
    go);
  box.hidden = false;
  go.focus();
}

/** A signed-in visitor of the landing page sees the rooms of their classrooms. */
async function listMyRooms(boot) {
  const root = $("#my-rooms");
  if (!root) return;
  useToken(boot.token);
  try {
    const { classrooms } = await api("GET", "/api/classrooms");
    const sections = [];
    for (const classroom of classrooms) {
      const rooms = await roomsOf(classroom);
      sections.push(h("section", { class: "card" }, h("h3", {}, classroom.title),
        rooms.length
          ? h("ul", { class: "room-links" }, rooms.map((r) => h("li", {}, h("a", { href: `/rooms/${r.id}` }, r.title), ` (${r.kind})`)))
          : h("p", { class: "muted" }, "No rooms open yet. Your instructor will open one.")));
    }
    clear(root, h("h2", {}, "Your rooms"), sections.length ? sections : h("p", { class: "muted" }, "You are in no classroom yet."));
  } catch (error) {
    clear(root, h("p", { class: "error" }, error.message));
  }
}

export function bootLogin() {
  const form = $("#login-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(form, "");
    busy(form, true);
    try {
      const signed = await api("POST", "/api/auth/login", {
        email: form.elements.namedItem("email").value.trim(),
        password: form.elements.namedItem("password").value,
      });
      await startSession(signed.token);
      const next = new URLSearchParams(location.search).get("next");
      // Only a local path: an open redirect would let a link send a fresh login anywhere.
      location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next : "/dashboard");
    } catch (error) {
      showError(form, error.message);
      busy(form, false);
    }
  });
}
