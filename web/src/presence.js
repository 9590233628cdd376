// Who is in the room and who has a hand up. Students see the member list; instructors also get
// the hands queue with a link to open the student's document.
import { h, clear } from "./dom.js";

export class Presence {
  constructor(membersRoot, handsRoot, { room, me }) {
    this.membersRoot = membersRoot;
    this.handsRoot = handsRoot;
    this.room = room;
    this.me = String(me);
    this.members = new Map();
    this.hands = new Map();
  }

  snapshot(members = [], hands = []) {
    this.members = new Map(members.map((m) => [String(m.user_id ?? m.id), m]));
    this.hands = new Map(hands.map((hand) => [String(hand.user_id), hand]));
    this.render();
  }

  /** member.joined {user: {id, name, role}}. */
  joined(message) {
    const member = message.user ?? message.member ?? message;
    this.members.set(String(member.user_id ?? member.id), { ...member, online: true });
    this.render();
  }

  left(message) {
    const who = message.user ?? message.member ?? message;
    const id = String(who.user_id ?? who.id);
    const member = this.members.get(id);
    if (member) this.members.set(id, { ...member, online: false });
    this.render();
  }

  raised(message) {
    this.hands.set(String(message.user_id), message);
    this.render();
  }

  lowered(message) {
    this.hands.delete(String(message.user_id));
    this.render();
  }

  myHandUp() {
    return this.hands.has(this.me);
  }

  render() {
    const online = [...this.members.values()].filter((m) => m.online !== false);
    if (this.membersRoot) {
      clear(this.membersRoot,
        h("h2", {}, `In the room (${online.length})`),
        h("ul", { class: "members", "data-testid": "members" }, online.map((m) =>
          h("li", {}, m.name ?? `#${m.user_id}`, m.role && m.role !== "student" ? h("span", { class: "badge" }, m.role) : null,
            this.hands.has(String(m.user_id ?? m.id)) ? h("span", { class: "hand", title: "hand raised" }, " ✋") : null))));
    }
    if (this.handsRoot) renderHands(this.handsRoot, this.room, [...this.hands.values()], this.members);
  }
}

/** The raised-hands queue, oldest first, each with a link to the student's document. */
export function renderHands(root, room, hands, members = new Map()) {
  const ordered = hands.slice().sort((a, b) => String(a.at ?? a.raised_at ?? "").localeCompare(String(b.at ?? b.raised_at ?? "")));
  if (ordered.length === 0) {
    clear(root, h("p", { class: "muted" }, "No hands raised."));
    return;
  }
  clear(root, h("ol", { class: "hands", "data-testid": "hands" }, ordered.map((hand) => {
    const name = hand.name ?? members.get(String(hand.user_id))?.name ?? `#${hand.user_id}`;
    const doc = hand.doc;
    return h("li", {}, h("strong", {}, name), hand.message ? ` — ${hand.message}` : "",
      doc ? [" ", h("a", { href: `/rooms/${room}?doc=${encodeURIComponent(doc)}` }, "open code")] : null);
  })));
}
