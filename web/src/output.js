// The terminal-like output pane of a run: stdout and stderr streamed as they arrive (stderr
// in its own colour and marked for screen readers), an input line that sends stdin to the
// running program, and the final status. Output chunks carry a per-run `seq`; when one is
// missing we fetch the whole run from the API once it has finished.
import { h, clear } from "./dom.js";
import { api } from "./api.js";

const STATUS_TEXT = {
  ok: "Finished",
  runtime_error: "Runtime error",
  timeout: "Time limit exceeded",
  memory_limit: "Memory limit exceeded",
  output_limit: "Output limit exceeded",
  compile_error: "Compile error",
  cancelled: "Cancelled",
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
    this.screen = h("pre", {
      class: "terminal",
      tabindex: "0",
      "aria-label": "Program output",
      "aria-live": "polite",
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
    clear(root, this.statusEl, this.screen, form);
  }

  get running() {
    return this.runId !== null && this.input.disabled === false;
  }

  started(message) {
    this.runId = message.run_id;
    this.nextSeq = 0;
    this.gap = false;
    clear(this.screen);
    this.statusEl.textContent = message.queued ? "Queued…" : "Running…";
    this.statusEl.dataset.state = "running";
    this.input.disabled = false;
    this.cancelButton.disabled = false;
  }

  output(message) {
    if (message.run_id !== this.runId) return;
    if (typeof message.seq === "number") {
      if (message.seq < this.nextSeq) return; // a duplicate after a reconnect
      if (message.seq > this.nextSeq) this.gap = true;
      this.nextSeq = message.seq + 1;
    }
    this.write(message.stream, message.data);
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

  async finished(message) {
    if (message.run_id !== this.runId) return;
    this.input.disabled = true;
    this.cancelButton.disabled = true;
    if (this.gap) await this.refetch();
    const parts = [statusText(message.status)];
    if (message.exit_code !== null && message.exit_code !== undefined) parts.push(`exit code ${message.exit_code}`);
    if (typeof message.time_ms === "number") parts.push(`${message.time_ms} ms`);
    this.statusEl.textContent = parts.join(" · ");
    this.statusEl.dataset.state = message.status;
  }

  /** Replaces the screen with the stored output of the run (after a gap in the stream). */
  async refetch() {
    try {
      const run = await api("GET", `/api/runs/${encodeURIComponent(this.runId)}`);
      clear(this.screen);
      for (const chunk of run.output ?? []) this.write(chunk.stream, chunk.data);
    } catch (error) {
      this.write("stderr", `\n[some output was lost: ${error.message}]\n`);
    }
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
    if (this.runId !== null) this.send({ type: "run.cancel", run_id: this.runId });
  }

  error(text) {
    this.statusEl.textContent = text;
    this.statusEl.dataset.state = "error";
  }
}
