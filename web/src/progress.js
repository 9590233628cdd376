// A student's own progress page (/progress?classroom=ID&user=ID): standing, XP over time (an
// SVG line chart), the skill radar (an SVG polygon over the topic tags), the streak calendar
// and the achievements, earned and locked. Data: GET /api/classrooms/{id}/students/{user}/progress.
import { h, $, clear } from "./dom.js";
import { api } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) if (child) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

/** XP total per day as a line; the points carry data-day and data-total. */
export function xpChart(series, { width = 480, height = 200, pad = 28 } = {}) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart", "data-testid": "xp-svg" });
  root.append(svg("title", {}, series.length ? `XP over time, ${series.at(-1).total} in all` : "No XP yet"));
  const max = Math.max(1, ...series.map((p) => p.total));
  const x = (i) => pad + (series.length <= 1 ? (width - 2 * pad) / 2 : (i * (width - 2 * pad)) / (series.length - 1));
  const y = (v) => height - pad - (v * (height - 2 * pad)) / max;
  root.append(svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis" }));
  root.append(svg("line", { x1: pad, y1: pad, x2: pad, y2: height - pad, class: "axis" }));
  root.append(svg("text", { x: 2, y: pad, class: "tick" }, String(max)));
  if (series.length) {
    const d = series.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.total).toFixed(1)}`).join(" ");
    root.append(svg("path", { d, class: "line", "data-testid": "xp-line" }));
    series.forEach((p, i) => root.append(svg("circle", { cx: x(i), cy: y(p.total), r: 3, class: "dot", "data-day": p.day, "data-total": p.total }, svg("title", {}, `${p.day}: ${p.total} XP`))));
  }
  return root;
}

/** One axis per tag, scores 0..1 as a polygon; the polygon's data-scores lists them. */
export function radarChart(axes, { size = 260 } = {}) {
  const c = size / 2;
  const r = c - 40;
  const root = svg("svg", { viewBox: `0 0 ${size} ${size}`, role: "img", class: "chart radar", "data-testid": "radar-svg" });
  root.append(svg("title", {}, axes.map((a) => `${a.tag} ${Math.round(a.score * 100)}%`).join(", ") || "No topics yet"));
  const n = Math.max(axes.length, 3);
  const at = (i, v) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / n;
    return [c + r * v * Math.cos(angle), c + r * v * Math.sin(angle)];
  };
  for (const ring of [0.25, 0.5, 0.75, 1]) {
    root.append(svg("polygon", { points: Array.from({ length: n }, (_, i) => at(i, ring).join(",")).join(" "), class: "ring" }));
  }
  axes.forEach((a, i) => {
    const [lx, ly] = at(i, 1.15);
    root.append(svg("line", { x1: c, y1: c, x2: at(i, 1)[0], y2: at(i, 1)[1], class: "axis" }));
    root.append(svg("text", { x: lx, y: ly, "text-anchor": "middle", class: "tick" }, a.tag));
  });
  if (axes.length) {
    const points = Array.from({ length: n }, (_, i) => at(i, axes[i]?.score ?? 0).join(",")).join(" ");
    root.append(svg("polygon", { points, class: "area", "data-testid": "radar-area", "data-scores": axes.map((a) => a.score).join(",") }));
  }
  return root;
}

function calendar(days, weeks = 17) {
  const active = new Set(days);
  const today = new Date();
  const cells = [];
  for (let i = weeks * 7 - 1; i >= 0; i--) {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i)).toISOString().slice(0, 10);
    cells.push(h("span", { class: active.has(day) ? "day on" : "day", title: day, dataset: { day } }));
  }
  return h("div", { class: "calendar", role: "img", "aria-label": `${days.length} active days` }, cells);
}

function render(data) {
  $("#progress-title").textContent = `Progress · ${data.user.name}`;
  clear($("#progress-rank"), `Rank ${data.rank.rank} of ${data.rank.of} · ahead of ${data.rank.percentile}% of the class · ${data.xp.total} XP · ${data.exercises.passed}/${data.exercises.total} exercises passed`);
  clear($("#progress-streak"), `Streak: ${data.streak.current} days (longest ${data.streak.longest})`);
  clear($("#progress-xp"), xpChart(data.xp.series));
  clear($("#progress-radar"), radarChart(data.radar));
  clear($("#progress-calendar"), calendar(data.streak.days));
  clear(
    $("#progress-achievements"),
    data.achievements.map((a) =>
      h("li", { class: a.earned ? "earned" : "locked", dataset: { id: a.id, earned: String(a.earned) } },
        h("span", { class: "icon", "aria-hidden": "true" }, a.icon),
        h("strong", {}, a.name),
        h("span", { class: "muted" }, a.earned ? ` earned ${a.unlocked_at.slice(0, 10)}` : " locked"),
        h("p", {}, a.description),
        h("p", { class: "muted" }, a.conditions.join("; ")),
      ),
    ),
  );
}

export async function bootProgress(boot) {
  const select = $("#progress-classroom");
  const { classrooms = [] } = await api("GET", "/api/classrooms").then((r) => (Array.isArray(r) ? { classrooms: r } : r));
  let classroom = boot.classroom ?? classrooms[0]?.id;
  const target = boot.student ?? boot.user.id;
  clear(select, classrooms.map((c) => h("option", { value: c.id, selected: c.id === classroom }, c.title)));
  const load = async () => {
    if (classroom === undefined) {
      clear($("#progress-rank"), "You are not in a classroom yet.");
      return;
    }
    render(await api("GET", `/api/classrooms/${classroom}/students/${target}/progress`));
  };
  select.addEventListener("change", () => {
    classroom = Number(select.value);
    load();
  });
  await load();
}
