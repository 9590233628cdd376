// Academic integrity on the dashboard (/dashboard?integrity=CLASSROOM): the ranked similar
// pairs of an exercise, a side-by-side view with the matched fragments highlighted, and a
// replay slider over any student's file (the text at any moment, who typed what, pastes).
// Everything here is a signal for a person: the only action with consequences is an
// instructor's "Confirm", which applies the exercise's penalty (when it sets one).
import { h, $, clear } from "./dom.js";
import { api } from "./api.js";
import { toast } from "./toasts.js";

const COLOURS = 6; // fragment and author colour classes: .frag-0 … .frag-5, .author-0 …

export async function bootIntegrity(boot, classroomId) {
  const section = h("section", { id: "integrity", class: "card", "aria-labelledby": "integrity-title" });
  $("#main").prepend(section);
  const [{ classrooms }, { exercises }, { rooms }] = await Promise.all([
    api("GET", "/api/classrooms"),
    api("GET", `/api/classrooms/${classroomId}/exercises`),
    api("GET", `/api/classrooms/${classroomId}/rooms`),
  ]);
  const classroom = classrooms.find((c) => c.id === classroomId);
  const exerciseSelect = h("select", { id: "integrity-exercise" },
    h("option", { value: "" }, "Choose an exercise"),
    exercises.map((e) => h("option", { value: e.id }, `${e.title} (${e.id})`)));
  const report = h("div", { id: "similarity-report", "aria-live": "polite" });
  const compare = h("div", { id: "similarity-compare", "data-testid": "compare" });
  exerciseSelect.addEventListener("change", () => showReport(classroomId, exerciseSelect.value, report, compare));
  clear(section,
    h("header", { class: "panel-head" },
      h("h2", { id: "integrity-title" }, `Academic integrity · ${classroom?.title ?? ""}`)),
    h("p", { class: "muted" },
      "Similarity and paste signals are for you to judge: nothing is penalised until an instructor confirms a pair."),
    h("section", { "aria-labelledby": "similarity-title" },
      h("h3", { id: "similarity-title" }, "Similar submissions"),
      h("p", {}, h("label", { for: "integrity-exercise" }, "Exercise "), exerciseSelect),
      report, compare),
    replayPanel(rooms));
}

async function showReport(classroomId, exerciseId, root, compare) {
  clear(compare);
  if (!exerciseId) return clear(root);
  let data;
  try {
    data = await api("GET", `/api/classrooms/${classroomId}/exercises/${encodeURIComponent(exerciseId)}/similarity`);
  } catch (error) {
    return clear(root, h("p", { class: "error", role: "alert" }, error.message));
  }
  if (!data.pairs.length) {
    return clear(root, h("p", { class: "muted" }, `${data.submissions} students submitted; no two share code beyond the starter.`));
  }
  const percent = (value) => `${Math.round(value * 100)} %`;
  const rows = data.pairs.map((pair, rank) => h("tr", { class: pair.flagged ? "flagged" : "", dataset: { rank } },
    h("td", {}, String(rank + 1)),
    h("td", {}, pair.a.name || `#${pair.a.user_id}`),
    h("td", {}, pair.b.name || `#${pair.b.user_id}`),
    h("td", { class: "num" }, percent(pair.similarity)),
    h("td", { class: "num" }, String(pair.fragments.length)),
    h("td", { class: "num", title: "large pastes by each student" }, `${pair.a.pastes} / ${pair.b.pastes}`),
    h("td", {}, pair.review ? pair.review.verdict : "—"),
    h("td", {}, h("button", { type: "button", class: "secondary",
      onclick: () => showPair(classroomId, exerciseId, pair, compare, data) }, "Compare"))));
  clear(root,
    h("p", { class: "muted" }, `${data.submissions} students · flagged at ${percent(data.threshold)}` +
      (data.penalty > 0 ? ` · confirmed pairs lose ${data.penalty} %` : " · no penalty set")),
    h("table", { class: "pairs", "data-testid": "similarity-pairs" },
      h("thead", {}, h("tr", {}, ["#", "Student A", "Student B", "Similarity", "Fragments", "Pastes A / B", "Review", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)));
}

async function showPair(classroomId, exerciseId, summary, root, report) {
  const base = `/api/classrooms/${classroomId}/exercises/${encodeURIComponent(exerciseId)}/similarity`;
  let pair;
  try {
    pair = await api("GET", `${base}/${summary.a.submission_id}/${summary.b.submission_id}`);
  } catch (error) {
    return clear(root, h("p", { class: "error", role: "alert" }, error.message));
  }
  const decide = async (verdict) => {
    try {
      const result = await api("POST", `${base}/reviews`, {
        a_submission_id: pair.a.submission_id, b_submission_id: pair.b.submission_id, verdict,
      });
      const applied = result.penalties.length ? `penalty applied to ${result.penalties.length} submission(s)` : (result.reason ?? "no penalty");
      toast(verdict === "confirmed" ? "Pair confirmed" : "Pair dismissed", applied, "good");
      status.textContent = `${verdict}: ${applied}`;
    } catch (error) {
      toast("Review failed", error.message, "error");
    }
  };
  const status = h("p", { role: "status", "data-testid": "review-status" }, pair.review ? `reviewed: ${pair.review.verdict}` : "not reviewed");
  clear(root,
    h("h4", {}, `${pair.a.name} and ${pair.b.name}: ${Math.round(pair.similarity * 100)} % similar, ${pair.fragments.length} matched fragments`),
    h("div", { class: "side-by-side" }, codePanel(pair.a, pair.fragments, "a_lines"), codePanel(pair.b, pair.fragments, "b_lines")),
    h("div", { class: "row" },
      h("button", { type: "button", onclick: () => decide("confirmed"), title: report.penalty > 0 ? `applies ${report.penalty} %` : "no penalty set" }, "Confirm"),
      h("button", { type: "button", class: "secondary", onclick: () => decide("dismissed") }, "Dismiss"),
      status));
}

function codePanel(side, fragments, key) {
  const lines = side.text.replace(/\n$/, "").split("\n");
  const owner = new Map();
  fragments.forEach((fragment, index) => {
    const [start, end] = fragment[key];
    for (let n = start; n <= end; n++) if (!owner.has(n)) owner.set(n, index);
  });
  const pastes = side.pastes.length
    ? h("p", { class: "paste-note" }, `${side.pastes.length} large paste(s): ` +
        side.pastes.map((p) => `${p.inserted} chars in ${p.doc} at ${new Date(p.at).toLocaleString()}`).join("; "))
    : h("p", { class: "muted" }, "No large pastes.");
  return h("figure", { class: "code-panel", "data-testid": `code-${key[0]}` },
    h("figcaption", {}, `${side.name} · submission ${side.submission_id}`),
    pastes,
    h("pre", {}, lines.map((line, i) => {
      const fragment = owner.get(i + 1);
      const cls = fragment === undefined ? "line" : `line match frag-${fragment % COLOURS}`;
      return h("span", { class: cls, dataset: { line: i + 1, fragment: fragment ?? "" } },
        h("span", { class: "ln", "aria-hidden": "true" }, String(i + 1).padStart(3)), ` ${line}\n`);
    })));
}

// ---- replay ----

function replayPanel(rooms) {
  const roomSelect = h("select", { id: "replay-room" }, h("option", { value: "" }, "Choose a room"),
    rooms.map((r) => h("option", { value: r.id }, r.title)));
  const docSelect = h("select", { id: "replay-doc", disabled: true }, h("option", { value: "" }, "Choose a file"));
  const stage = h("div", { id: "replay-stage" });
  roomSelect.addEventListener("change", async () => {
    clear(stage);
    clear(docSelect, h("option", { value: "" }, "Choose a file"));
    docSelect.disabled = true;
    if (!roomSelect.value) return;
    const { documents } = await api("GET", `/api/rooms/${roomSelect.value}/docs`);
    for (const doc of documents.filter((d) => d.kind !== "demo")) {
      const who = doc.owners.map((o) => o.name).join(", ");
      docSelect.append(h("option", { value: doc.name }, who ? `${who} · ${doc.name}` : doc.name));
    }
    docSelect.disabled = false;
  });
  docSelect.addEventListener("change", () => {
    if (docSelect.value) showReplay(Number(roomSelect.value), docSelect.value, stage);
  });
  return h("section", { "aria-labelledby": "replay-title" },
    h("h3", { id: "replay-title" }, "Replay a file"),
    h("p", { class: "row" }, h("label", { for: "replay-room" }, "Room"), roomSelect,
      h("label", { for: "replay-doc" }, "File"), docSelect),
    stage);
}

/** Applies one event's delta to the text and the per-character authors. */
export function applyDelta(state, event) {
  let at = 0;
  for (const op of event.delta) {
    if (op.retain !== undefined) at += op.retain;
    else if (typeof op.insert === "string") {
      state.text = state.text.slice(0, at) + op.insert + state.text.slice(at);
      state.authors.splice(at, 0, ...new Array(op.insert.length).fill(event.user_id));
      at += op.insert.length;
    } else if (op.delete !== undefined) {
      state.text = state.text.slice(0, at) + state.text.slice(at + op.delete);
      state.authors.splice(at, op.delete);
    }
  }
}

const EVERY = 100; // a saved state every EVERY steps, so the slider moves back cheaply

export function replayer(timeline) {
  const saved = [{ text: timeline.start.text, authors: new Array(timeline.start.text.length).fill(null) }];
  let state = { ...saved[0], authors: [...saved[0].authors] };
  let step = 0;
  return function at(target) {
    if (target < step) {
      const base = Math.floor(target / EVERY);
      state = { text: saved[base].text, authors: [...saved[base].authors] };
      step = base * EVERY;
    }
    while (step < target) {
      applyDelta(state, timeline.events[step]);
      step += 1;
      if (step % EVERY === 0 && !saved[step / EVERY]) saved[step / EVERY] = { text: state.text, authors: [...state.authors] };
    }
    return state;
  };
}

async function showReplay(roomId, doc, stage) {
  let timeline;
  try {
    timeline = await api("GET", `/api/rooms/${roomId}/docs/${encodeURI(doc)}/history`);
  } catch (error) {
    return clear(stage, h("p", { class: "error", role: "alert" }, error.message));
  }
  const events = timeline.events;
  const names = new Map(events.map((e) => [e.user_id, e.name ?? `#${e.user_id}`]));
  const colour = new Map([...names.keys()].map((id, i) => [id, i % COLOURS]));
  const at = replayer(timeline);
  const slider = h("input", { type: "range", id: "replay-slider", min: 0, max: events.length, value: events.length, step: 1 });
  const when = h("p", { role: "status", "data-testid": "replay-when" });
  const text = h("pre", { class: "replay-text", "data-testid": "replay-text" });
  const render = () => {
    const step = Number(slider.value);
    const state = at(step);
    const event = events[step - 1];
    when.textContent = step === 0
      ? `start${timeline.start.at ? ` (${new Date(timeline.start.at).toLocaleString()})` : ""} · 0 / ${events.length}`
      : `${new Date(event.at).toLocaleString()} · ${names.get(event.user_id)} · ${step} / ${events.length}` +
        (event.paste ? ` · paste of ${event.inserted} characters` : "") +
        (event.starter ? " · the exercise's starter code, seeded by the editor" : "");
    const runs = [];
    let from = 0;
    for (let i = 1; i <= state.text.length; i++) {
      if (i === state.text.length || state.authors[i] !== state.authors[from]) {
        const who = state.authors[from];
        runs.push(h("span", { class: who === null ? "author-none" : `author-${colour.get(who)}`, title: who === null ? "before the kept history" : names.get(who) }, state.text.slice(from, i)));
        from = i;
      }
    }
    clear(text, runs);
  };
  slider.addEventListener("input", render);
  const pastes = events.map((e, i) => [e, i]).filter(([e]) => e.paste);
  clear(stage,
    h("p", { class: "muted" }, `${events.length} updates kept (history kept ${timeline.retention_days} days; a paste is one update of ${timeline.paste_threshold}+ characters).`),
    h("p", { class: "legend" }, [...names].map(([id, name]) => h("span", { class: `author-${colour.get(id)}` }, name))),
    h("label", { for: "replay-slider" }, "Replay position"), slider, when,
    h("div", { class: "row", "data-testid": "pastes" }, pastes.length
      ? pastes.map(([e, i]) => h("button", { type: "button", class: "paste", onclick: () => { slider.value = String(i + 1); render(); } },
          `Paste: ${e.inserted} chars by ${names.get(e.user_id)}, ${new Date(e.at).toLocaleTimeString()}`))
      : h("span", { class: "muted" }, "No large pastes.")),
    text);
  render();
}
