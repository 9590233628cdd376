// Running code over HTTP, for when the events socket is down: POST the run, then poll
// GET /api/runs/{id} until it has finished and show its stored output in one piece.
import { api } from "./api.js";

const DONE = new Set(["ok", "runtime_error", "timeout", "memory_limit", "output_limit", "compile_error", "cancelled", "internal_error"]);

export async function runOverHttp(room, command, output) {
  let run;
  try {
    run = await api("POST", `/api/rooms/${room}/runs`, { doc: command.doc, language: command.language, stdin: command.stdin ?? "" });
  } catch (error) {
    output.error(`Run refused: ${error.message}`);
    return;
  }
  const runId = run.id ?? run.run_id;
  output.started({ run_id: runId });
  let delay = 100;
  const deadline = Date.now() + 120_000;
  while (!DONE.has(run.status) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(1000, delay * 2);
    try {
      run = await api("GET", `/api/runs/${runId}`);
    } catch (error) {
      output.error(`Lost track of the run: ${error.message}`);
      return;
    }
  }
  for (const chunk of run.output ?? []) output.write(chunk.stream, chunk.data);
  if (!run.output) {
    if (run.stdout) output.write("stdout", run.stdout);
    if (run.stderr) output.write("stderr", run.stderr);
  }
  await output.finished({ run_id: runId, status: run.status, exit_code: run.exit_code, time_ms: run.time_ms });
}
