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

// What went wrong, in words a student or a teacher can act on; the server's own text (a
// validator's "email: String should have at least 3 characters") never reaches the page.
const PLAIN = {
  bad_credentials: "That email and password do not match. Check both and try again.",
  unknown_join_code: "No class has this join code. Check it with your teacher.",
  rate_limited: "Too many tries in a short time. Wait a minute, then try again.",
  network: "The server cannot be reached. Check your connection and try again.",
};

/** The first problem of the form's fields before anything is sent, or null. */
function checkFields(fields) {
  for (const [value, test, message] of fields) if (!test(value)) return message;
  return null;
}

export function plainError(error, fallback) {
  if (PLAIN[error.code]) return PLAIN[error.code];
  if (error.code === "invalid_body" || error.code === "invalid_json") return fallback;
  if (error.status >= 500) return "Something went wrong on the server. Try again in a moment.";
  // Our own API messages are short sentences; a validator's are not shown as they are.
  return /^\w+(\.\w+)*: /.test(error.message ?? "") ? fallback : (error.message || fallback);
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
        const problem = checkFields([
          [body.join_code, (v) => v.length > 0, "Type the join code your teacher shows."],
          [body.join_code, (v) => /^[A-Z0-9]{4,16}$/.test(v), "A join code is 4 to 16 letters and digits, like K7Q2XM."],
          [body.name, (v) => v.length > 0, "Type your name, so your teacher knows who you are."],
          [body.name, (v) => v.length <= 80, "Your name can be at most 80 characters."],
        ]);
        if (problem) {
          showError(form, problem);
          busy(form, false);
          return;
        }
        const joined = await api("POST", "/api/join", body);
        useToken(joined.token);
        await startSession(joined.token);
        const rooms = await roomsOf(joined.classroom);
        const target = rooms.length === 1 ? `/rooms/${rooms[0].id}` : "/";
        if (joined.rejoin_code) showPersonalCode(joined.rejoin_code, target);
        else location.assign(target);
      } catch (error) {
        showError(form, plainError(error, "Check the join code and your name, then try again."));
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
  if (boot.user) listMyRooms(boot);
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

export function bootLogin(boot) {
  const form = $("#login-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(form, "");
    const email = form.elements.namedItem("email").value.trim();
    const password = form.elements.namedItem("password").value;
    const problem = checkFields([
      [email, (v) => v.length > 0, "Type your email address."],
      [email, (v) => /^[^\s@]+@[^\s@]+$/.test(v), "That does not look like an email address: it needs an @, like ada@school.org."],
      [password, (v) => v.length > 0, "Type your password."],
    ]);
    if (problem) {
      showError(form, problem);
      return;
    }
    busy(form, true);
    try {
      const signed = await api("POST", "/api/auth/login", { email, password });
      await startSession(signed.token);
      // The server checked next= (same-origin paths only: server/security/redirects.py).
      location.assign(boot.next ?? "/dashboard");
    } catch (error) {
      showError(form, plainError(error, "Check your email and password, then try again."));
      busy(form, false);
    }
  });
}
