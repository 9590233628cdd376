// The room leaderboard as an ordered list; rows move as leaderboard.update events arrive.
import { h, clear } from "./dom.js";

/** `entries`: [{user_id, name, score|points|xp, rank?}], best first. */
export function renderLeaderboard(root, entries, me = null) {
  const rows = (entries ?? []).slice(0, 20);
  if (rows.length === 0) {
    clear(root, h("p", { class: "muted" }, "No scores yet."));
    return;
  }
  const list = h("ol", { class: "leaderboard", "data-testid": "leaderboard" });
  for (const [index, entry] of rows.entries()) {
    const score = entry.score ?? entry.points ?? entry.xp ?? 0;
    const mine = me !== null && String(entry.user_id) === String(me);
    list.append(
      h(
        "li",
        { class: mine ? "mine" : null, dataset: { userId: entry.user_id } },
        h("span", { class: "rank" }, `${entry.rank ?? index + 1}`),
        h("span", { class: "who" }, entry.name ?? `#${entry.user_id}`, mine ? " (you)" : ""),
        h("span", { class: "score" }, `${score}`),
      ),
    );
  }
  clear(root, list);
}
