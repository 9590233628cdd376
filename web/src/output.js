// The terminal-like output pane of a run: stdout and stderr streamed as they arrive (stderr
// in its own colour and marked for screen readers), an input line that sends stdin to the
// running program, and the final status. Output chunks carry a per-run `seq` (from 0, across
// both streams); when one is missing we ask for the run's chunks again (run.fetch) and rebuild.
import { h, clear } from "./dom.js";

const STATUS_TEXT = {
  ok: "Finished",
  runtime_error: "Runtime error",
  timeout: "Time limit exceeded",
  memory_limit: "Memory limit exceeded",
  output_limit: "Output limit exceeded",
  compile_error: "Compile error",
  cancelled: "Stopped",
  internal_error: "Internal error",
};

export function statusText(status) {
  return STATUS_TEXT[status] ?? status ?? "";
}

export class OutputPane {
  /** `root` holds the pane; `send(message)` sends a room command and returns false if offline. */
  constructor(root, send) {
    this.send = send;
    this.runId = null;
    this.nextSeq = 0;
    this.gap = false;
    this.statusEl = h("p", { class: "run-status", role: "status" }, "No run yet.");
    // role=log: a live region whose new lines a screen reader reads as they come.
    this.screen = h("pre", {
      class: "terminal",
      role: "log",
      tabindex: "0",
      "aria-label": "Program output",
      "data-testid": "output",
    });
    this.input = h("input", {
      id: "stdin-line",
      type: "text",
      autocomplete: "off",
      spellcheck: "false",
      disabled: true,
      placeholder: "Type input for the program, then Enter",
    });
    this.cancelButton = h("button", { type: "button", class: "secondary", disabled: true, onclick: () => this.cancel() }, "Stop");
    const form = h(
      "form",
      { class: "stdin", onsubmit: (event) => this.submitInput(event) },
      h("label", { for: "stdin-line" }, "Input"),
      this.input,
      this.cancelButton,
    );
    this.root = root;
    clear(root, this.statusEl, this.screen, form);
  }

  get running() {
    return this.runId !== null && this.input.disabled === false;
  }

  /** Brings the pane into view (after Run, on a phone the output is below the editor). */
  reveal() {
    this.root.scrollIntoView?.({ block: "nearest", behavior: "smooth" });
  }

  /** run.started {run_id, state: queued|running}; it comes twice when the run was queued. */
  started(message) {
    const again = message.run_id === this.runId;
    this.runId = message.run_id;
    if (!again || message.state === "running") this.startedAt = performance.now();
    this.stopping = false;
    this.statusEl.textContent = message.state === "queued" ? "Queued…" : "Running…";
    this.statusEl.dataset.state = "running";
    this.input.disabled = false;
    this.cancelButton.disabled = false;
    if (again) return;
    this.nextSeq = 0;
    this.refetching = null;
    clear(this.screen);
  }

  /** run.output {run_id, seq, stream, data}. */
  output(message) {
    if (message.run_id !== this.runId) return;
    if (this.refetching) {
      this.refetching.push(message);
      return;
    }
    if (message.seq < this.nextSeq) return; // seen already (a replay)
    if (message.seq > this.nextSeq) {
      // A gap: ask for everything and hold new chunks until the answer comes.
      this.refetching = [message];
      this.send({ type: "run.fetch", run_id: this.runId, after: -1 });
      return;
    }
    this.nextSeq = message.seq + 1;
    this.write(message.stream, message.data);
  }

  /** run.chunks {run_id, chunks}: the answer to run.fetch; rebuild the screen from it. */
  chunks(message) {
    if (message.run_id !== this.runId) return;
    const held = this.refetching ?? [];
    this.refetching = null;
    clear(this.screen);
    this.nextSeq = 0;
    for (const chunk of [...(message.chunks ?? []), ...held].sort((a, b) => a.seq - b.seq)) {
      if (chunk.seq < this.nextSeq) continue;
      this.nextSeq = chunk.seq + 1;
      this.write(chunk.stream, chunk.data);
    }
  }

  write(stream, data) {
    const last = this.screen.lastElementChild;
    if (last && last.dataset.stream === stream) last.append(data);
    else {
      const attrs = { class: `stream-${stream}`, dataset: { stream } };
      const label = stream === "stderr" ? h("span", { class: "sr-only" }, "error output: ") : null;
      this.screen.append(h("span", attrs, label, data));
    }
    this.screen.scrollTop = this.screen.scrollHeight;
  }

  /** run.finished {run_id, status, exit_code, signal, time_ms, message, compile_output}. */
  finished(message) {
    if (message.run_id !== this.runId) return;
    this.input.disabled = true;
    this.cancelButton.disabled = true;
    // Compile errors may come only in the result, not as streamed chunks.
    if (message.compile_output && this.screen.textContent === "") this.write("stderr", message.compile_output);
    // An empty black box reads as "broken": say that the program printed nothing.
    if (this.screen.textContent === "") {
      this.screen.append(h("span", { class: "empty" }, message.status === "ok" ? "(The program printed nothing.)" : "(No output.)"));
    }
    const cancelled = message.status === "cancelled";
    const parts = [cancelled && this.stopping ? "Stopped by you" : statusText(message.status)];
    if (message.exit_code !== null && message.exit_code !== undefined && !cancelled) parts.push(`exit code ${message.exit_code}`);
    if (message.signal && !cancelled) parts.push(`signal ${message.signal}`);
    // A cancelled run may report 0 ms (it never finished): the time the student waited is ours.
    let ms = typeof message.time_ms === "number" ? message.time_ms : null;
    if ((ms === null || (cancelled && ms === 0)) && this.startedAt !== undefined) ms = performance.now() - this.startedAt;
    if (ms !== null) parts.push(cancelled ? `after ${formatMs(ms)}` : formatMs(ms));
    // "cancelled" again after "Stopped" says nothing new.
    if (message.message && !(cancelled && /^cancel/i.test(message.message))) parts.push(message.message);
    this.statusEl.textContent = parts.join(" · ");
    this.statusEl.dataset.state = message.status;
  }

  submitInput(event) {
    event.preventDefault();
    if (this.runId === null || this.input.disabled) return;
    const data = `${this.input.value}\n`;
    if (this.send({ type: "run.stdin", run_id: this.runId, data })) {
      this.write("stdin", data);
      this.input.value = "";
    }
  }

  cancel() {
    if (this.runId === null) return;
    this.stopping = true;
    if (this.send({ type: "run.cancel", run_id: this.runId })) this.statusEl.textContent = "Stopping…";
  }

  error(text) {
    this.statusEl.textContent = text;
    this.statusEl.dataset.state = "error";
  }
}

function formatMs(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
