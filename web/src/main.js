// The one bundle of every page. The server renders the page with a JSON boot block
// (<script type="application/json" id="boot">) naming the page and the user (no token: sockets
// open with single-use tickets, tickets.js); we start that page's code.
import { bootJoin, bootLogin } from "./forms.js";
import { bootDashboard } from "./dashboard.js";
import { bootRoom } from "./room.js";
import { endSession } from "./api.js";
import { toast } from "./toasts.js";

const PAGES = { join: bootJoin, login: bootLogin, dashboard: bootDashboard, room: bootRoom };

function readBoot() {
  const el = document.getElementById("boot");
  if (!el) return {};
  try {
    return JSON.parse(el.textContent);
  } catch {
    return {};
  }
}

/** "Large text" for a projector: scales the page and the editors, remembered per browser. */
function largeText() {
  const button = document.getElementById("large-text");
  const apply = (on) => {
    document.documentElement.classList.toggle("large", on);
    button?.setAttribute("aria-pressed", String(on));
  };
  apply(localStorage.getItem("large-text") === "1");
  button?.addEventListener("click", () => {
    const on = !document.documentElement.classList.contains("large");
    localStorage.setItem("large-text", on ? "1" : "0");
    apply(on);
  });
}

async function start() {
  const boot = readBoot();
  largeText();
  let warned = false;
  window.addEventListener("classroom:signed-out", (event) => {
    if (warned) return;
    warned = true;
    const again = boot.user?.kind === "instructor" ? `/login?next=${encodeURIComponent(location.pathname + location.search)}` : "/";
    const note = toast("Your session has ended", `${event.detail?.message ?? "Sign in again"} — `, "error", 60_000);
    const link = document.createElement("a");
    link.href = again;
    link.textContent = "sign in again";
    note.querySelector("p").append(link);
  });
  const logout = document.getElementById("logout");
  logout?.addEventListener("click", async () => {
    await endSession().catch(() => {});
    location.assign("/");
  });
  const page = PAGES[boot.page];
  if (!page) return;
  try {
    await page(boot);
    document.body.dataset.ready = "true";
  } catch (error) {
    console.error(error);
    toast("The page failed to start", error.message, "error", 20000);
    document.body.dataset.ready = "failed";
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
