// Who is in the room and the help queue. Students see the member list and their own hand;
// staff also get the queue of raised hands, oldest first, with Take / Done and a link to the
// student's document.
import { h, clear } from "./dom.js";

const OPEN = new Set(["pending", "taken"]);

/** A hand event's or snapshot's hand: {id, user: {id, name}, doc, message, state, taken_by}. */
function handOf(message) {
  return message.hand ?? message;
}

export class Presence {
  /** `send` (optional) lets staff take and close hands from the queue. */
  constructor(membersRoot, handsRoot, { room, me, send = null }) {
    this.membersRoot = membersRoot;
    this.handsRoot = handsRoot;
    this.room = room;
    this.me = String(me);
    this.send = send;
    this.members = new Map();
    this.hands = new Map();
  }

  snapshot(members = [], hands = []) {
    this.members = new Map((members ?? []).map((m) => [String(m.user_id ?? m.id), m]));
    this.hands = new Map((hands ?? []).map((hand) => [String(hand.id), hand]));
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

  /** hand.raised | hand.lowered | hand.taken | hand.done: the hand's new state. */
  hand(message) {
    const hand = handOf(message);
    if (OPEN.has(hand.state)) this.hands.set(String(hand.id), hand);
    else this.hands.delete(String(hand.id));
    this.render();
  }

  myHand() {
    return [...this.hands.values()].find((hand) => String(hand.user?.id) === this.me) ?? null;
  }

  render() {
    const online = [...this.members.values()].filter((m) => m.online !== false);
    const raised = new Set([...this.hands.values()].map((hand) => String(hand.user?.id)));
    if (this.membersRoot) {
      clear(this.membersRoot,
        h("h2", {}, `In the room (${online.length})`),
        h("ul", { class: "members", "data-testid": "members" }, online.map((m) =>
          h("li", {}, m.name ?? `#${m.user_id ?? m.id}`,
            m.role && m.role !== "student" ? h("span", { class: "badge" }, m.role) : null,
            raised.has(String(m.user_id ?? m.id)) ? h("span", { class: "hand" }, " ✋", h("span", { class: "sr-only" }, "hand raised")) : null))));
    }
    if (this.handsRoot) renderHands(this.handsRoot, this.room, [...this.hands.values()], this.send);
  }
}

/** The help queue, oldest first; with `send`, staff can take a hand and mark it done. */
export function renderHands(root, room, hands, send = null) {
  const ordered = hands.slice().sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  if (ordered.length === 0) {
    clear(root, h("p", { class: "muted" }, "No hands raised."));
    return;
  }
  clear(root, h("ol", { class: "hands", "data-testid": "hands" }, ordered.map((hand) => {
    const name = hand.user?.name || `#${hand.user?.id}`;
    const actions = [];
    if (hand.doc) actions.push(h("a", { href: `/rooms/${room}?doc=${encodeURIComponent(hand.doc)}` }, "open code"));
    if (send && hand.state === "pending") {
      actions.push(h("button", { type: "button", class: "secondary", onclick: () => send({ type: "hand.take", hand_id: hand.id }) }, `Take ${name}`));
    }
    if (send) actions.push(h("button", { type: "button", class: "secondary", onclick: () => send({ type: "hand.done", hand_id: hand.id }) }, "Done"));
    return h("li", { class: `hand-${hand.state}` },
      h("strong", {}, name), hand.message ? ` — ${hand.message}` : "",
      hand.state === "taken" && hand.taken_by ? h("span", { class: "muted" }, ` (with ${hand.taken_by.name})`) : null,
      h("span", { class: "row" }, actions));
  })));
}
