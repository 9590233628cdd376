// Single-use socket tickets. Pages hold no long-lived token: before each socket (and each
// reconnect) they ask POST /api/socket-tickets (authenticated by the page cookie) for a ticket
// that opens exactly one socket within a few seconds.
import { api } from "./api.js";

export async function fetchTicket() {
  const { ticket } = await api("POST", "/api/socket-tickets");
  return ticket;
}

/** `url` with a fresh ticket added to its query. */
export async function ticketed(url) {
  const ticket = await fetchTicket();
  return `${url}${url.includes("?") ? "&" : "?"}ticket=${encodeURIComponent(ticket)}`;
}

/**
 * A WebSocket for the stock y-websocket provider (its `WebSocketPolyfill` option): the
 * provider builds one per (re)connect with a fixed URL, so each instance first fetches a fresh
 * ticket, then opens the real socket and passes its events on. A refused ticket (signed out)
 * looks like a 1008 close, which collab.js treats as a refusal.
 */
export class TicketSocket {
  // The provider compares readyState with the instance's constants (ws.readyState === ws.OPEN).
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  CONNECTING = 0;
  OPEN = 1;
  CLOSING = 2;
  CLOSED = 3;

  constructor(url) {
    this.url = url;
    this.binaryType = "arraybuffer";
    this.readyState = 0;
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    this.socket = null;
    this.closing = false;
    ticketed(url).then(
      (full) => {
        if (this.closing) return this.closed(1000, "closed before it opened");
        const socket = new WebSocket(full);
        socket.binaryType = this.binaryType;
        this.socket = socket;
        socket.onopen = (event) => {
          this.readyState = 1;
          this.onopen?.(event);
        };
        socket.onmessage = (event) => this.onmessage?.(event);
        socket.onerror = (event) => this.onerror?.(event);
        socket.onclose = (event) => {
          this.readyState = 3;
          this.onclose?.(event);
        };
      },
      (error) => {
        this.onerror?.(error);
        this.closed(error?.status === 401 || error?.status === 403 ? 1008 : 1006, error?.message ?? "no socket ticket");
      },
    );
  }

  closed(code, reason) {
    this.readyState = 3;
    this.onclose?.({ code, reason, wasClean: false });
  }

  send(data) {
    this.socket?.send(data);
  }

  close(code, reason) {
    this.closing = true;
    this.readyState = 2;
    this.socket?.close(code, reason);
  }
}
