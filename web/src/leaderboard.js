// The live leaderboard: the room's board and the classroom's board of the week, from the
// room.snapshot's `leaderboard` part ({room: {board, entries}, weekly: {...}}) and
// leaderboard.update events ({board, entries: [{rank, user_id, points, delta, name?}]}).
import { h, clear } from "./dom.js";

const BOARDS = [["room", "This room"], ["weekly", "This week"]];

export class Leaderboard {
  /** `nameOf(userId)` names a row whose entry carries no name. */
  constructor(root, { me = null, nameOf = () => null } = {}) {
    this.root = root;
    this.me = me === null ? null : String(me);
    this.nameOf = nameOf;
    this.boards = { room: [], weekly: [] };
    this.shown = "room";
    this.render();
  }

  snapshot(part) {
    if (Array.isArray(part)) this.boards.room = part;
    else if (part) for (const [key] of BOARDS) this.boards[key] = part[key]?.entries ?? [];
    this.render();
  }

  update(event) {
    this.boards[event.board === "weekly" ? "weekly" : "room"] = event.entries ?? [];
    this.render();
  }

  render() {
    const tabs = h("div", { class: "row", role: "group", "aria-label": "Board" }, BOARDS.map(([key, label]) =>
      h("button", { type: "button", class: "secondary", "aria-pressed": String(this.shown === key),
        onclick: () => { this.shown = key; this.render(); } }, label)));
    const rows = (this.boards[this.shown] ?? []).slice(0, 20);
    const body = rows.length === 0 ? h("p", { class: "muted" }, "No scores yet.") : h("ol", { class: "leaderboard", "data-testid": "leaderboard" },
      rows.map((entry, index) => {
        const mine = this.me !== null && String(entry.user_id) === this.me;
        const name = entry.name || this.nameOf(entry.user_id) || `#${entry.user_id}`;
        return h("li", { class: mine ? "mine" : null, dataset: { userId: entry.user_id } },
          h("span", { class: "rank" }, `${entry.rank ?? index + 1}`),
          h("span", { class: "who" }, name, mine ? " (you)" : "", delta(entry.delta)),
          h("span", { class: "score" }, `${entry.points ?? entry.score ?? 0}`));
      }));
    clear(this.root, tabs, body);
  }
}

function delta(value) {
  if (!value) return null;
  const up = value > 0;
  return h("span", { class: up ? "up" : "down", title: up ? `up ${value}` : `down ${-value}` },
    up ? ` ▲${value}` : ` ▼${-value}`, h("span", { class: "sr-only" }, up ? ` up ${value}` : ` down ${-value}`));
}
