// "Sign-in code" in a student's header: a new personal code with its QR code, to sign back in
// as oneself on a phone or another computer. Only a digest is stored, so the code cannot be
// shown again: each click makes a new one and the old one stops working.
import { h } from "./dom.js";
import { api } from "./api.js";
import { toast } from "./toasts.js";

export function bootMyCode() {
  const button = document.getElementById("my-code");
  button?.addEventListener("click", async () => {
    try {
      show(await api("POST", "/api/me/rejoin-code"));
    } catch (error) {
      toast("No code", error.message, "error");
    }
  });
}

function show({ code, url, qr_svg: svg }) {
  const qr = `data:image/svg+xml;base64,${btoa(svg)}`;
  const dialog = h("dialog", { class: "projector", "aria-label": "Your sign-in code" },
    h("h2", {}, "Your sign-in code"),
    h("p", { class: "join-code", "data-testid": "my-code" }, code),
    h("img", { src: qr, alt: `QR code of the link ${url}`, width: 240, height: 240 }),
    h("p", {}, "Scan it with a phone, or type the code under \"Back again?\" on the first page. "
      + "Any older code of yours no longer works."),
    h("form", { method: "dialog" }, h("button", { type: "submit" }, "Close")));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
