// A grade as a student can read it: the score first (with any penalty in words), then for the
// failing tests the one line that matters (the last line of a traceback, the first line of a
// message), with tests that failed the same way merged into one entry; the full text of each
// is one click away, wrapped, never wider than the panel. (The grader's own frames are
// removed on the server: sandbox/grading/runners/main.py keeps only the student's and the test
// file's lines.)
import { h } from "./dom.js";

const EXCEPTION_LINE = /^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b.*$/;

/** The line of a failure's text a student should read first. */
export function leadLine(output) {
  const lines = String(output ?? "").split("\n").map((l) => l.trimEnd());
  // A section ("--- stderr") follows the message; a traceback's last exception line wins.
  const exceptions = lines.filter((l) => EXCEPTION_LINE.test(l.trim()));
  if (exceptions.length) return exceptions[exceptions.length - 1].trim();
  const first = lines.find((l) => l.trim() && !l.startsWith("---") && !/^importing the tests failed:?$/.test(l.trim()));
  return (first ?? "").trim() || "failed";
}

/** Failing tests grouped by identical output, in test order: [{lead, output, tests: [...]}]. */
export function groupFailures(tests) {
  const groups = new Map();
  for (const test of tests) {
    if (test.status === "passed") continue;
    const output = test.output ?? "";
    // Hidden tests show no output: they fail "the same way" as far as the student can tell.
    const key = output || "\u0000hidden";
    if (!groups.has(key)) groups.set(key, { lead: output ? leadLine(output) : "failed (details hidden)", output, tests: [] });
    groups.get(key).tests.push(test);
  }
  return [...groups.values()];
}

function fmt(value) {
  return typeof value === "number" ? String(Math.round(value * 100) / 100) : "0";
}

/** The results view: a list of nodes to put in the panel. */
export function renderResults(submission) {
  const results = submission.results ?? submission;
  const tests = results.tests ?? [];
  const passed = tests.filter((t) => t.status === "passed").length;
  const penalties = results.extra_data?.penalties ?? [];
  const attempt = submission.attempt ?? results.extra_data?.attempt;
  const nodes = [
    h("p", { class: "score", "data-testid": "grade-score" },
      `Score ${fmt(submission.score ?? results.score)} / ${fmt(submission.max_score ?? results.max_score)} — ${passed} of ${tests.length} tests passed`),
  ];
  if (penalties.length) {
    nodes.push(h("p", { class: "penalty-note", "data-testid": "penalty-note" },
      `${attempt ? `Attempt ${attempt}: ` : ""}${penalties.map((p) => `−${p.percent}% (${p.kind === "attempt" ? "attempt penalty" : p.reason})`).join(", ")}`));
  }
  const groups = groupFailures(tests);
  for (const group of groups) {
    const names = group.tests.map((t) => t.name ?? "test");
    nodes.push(h("div", { class: "feedback-group", "data-testid": "failure" },
      h("p", { class: "feedback-lead" }, group.lead),
      h("p", { class: "muted" }, names.length > 1 ? `The same in ${names.length} tests: ${names.join(", ")}` : `In test ${names[0]}`),
      group.output && group.output.trim() !== group.lead
        ? h("details", {}, h("summary", {}, "Full message"), h("pre", { class: "test-output" }, group.output))
        : null));
  }
  nodes.push(h("ul", { class: "tests", "aria-label": "Tests" }, tests.map((t) => {
    const ok = t.status === "passed";
    return h("li", { class: `test ${ok ? "passed" : "failed"}` },
      h("span", { class: "mark", "aria-hidden": "true" }, ok ? "✔" : "✘"),
      h("span", {}, ` ${t.name ?? "test"}: ${ok ? "passed" : "failed"}`),
      t.max_score !== undefined ? h("span", { class: "muted" }, ` (${fmt(t.score ?? 0)}/${fmt(t.max_score)})`) : null);
  })));
  return nodes;
}
