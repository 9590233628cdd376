// JSON API calls. Errors come back as {"error": {"code", "message"}}; we raise them as ApiError
// so forms can show the server's exact message.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let bearer = null;

/** The token sent as Authorization on every call (pages get it from the server-rendered boot data). */
export function useToken(token) {
  bearer = token;
}

export async function api(method, path, body = undefined) {
  const headers = { Accept: "application/json" };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const init = { method, headers, credentials: "same-origin" };
  if (body instanceof Blob) {
    // A file upload as the raw body (the course archive).
    headers["Content-Type"] = body.type || "application/octet-stream";
    init.body = body;
  } else if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "The server cannot be reached. Check the connection and try again.");
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = data?.error ?? {};
    // A page whose token expired: tell the page once, so it can offer to sign in again.
    if (response.status === 401 && error.code !== "bad_credentials") window.dispatchEvent(new CustomEvent("classroom:signed-out", { detail: error }));
    throw new ApiError(response.status, error.code ?? "http", error.message ?? `${response.status} ${response.statusText}`);
  }
  return data;
}

/** Stores the token in the HttpOnly page cookie (POST /api/session), so pages know who is signed in. */
export async function startSession(token) {
  await api("POST", "/api/session", { token });
}

export async function endSession() {
  await api("DELETE", "/api/session");
}
