// The room events socket (JSON over /ws/rooms/{room}). It reconnects with backoff by itself;
// after each (re)connect the server sends a fresh room.snapshot, so handlers rebuild from it.
// Commands sent while the socket is down are refused (returned false) rather than queued: a
// queued "run" replayed a minute later would surprise the student.
import { socketBase } from "./collab.js";
import { ticketed } from "./tickets.js";

const MAX_BACKOFF_MS = 5000;

export class RoomEvents {
  constructor(room) {
    this.url = `${socketBase()}/ws/rooms/${encodeURIComponent(room)}`;
    this.handlers = new Map();
    this.socket = null;
    // One way back at a time: a ticket being fetched, or a retry waiting its turn. Without
    // them an "online" event during a retry's wait connected, the retry connected again, and
    // the page held two room sockets (the first one never closed).
    this.fetching = false;
    this.retry = null;
    this.attempt = 0;
    this.closed = false;
    this.status = "connecting";
    // As for documents: leave at once when the browser goes offline, come back when online.
    // Only the events say so: a browser on a machine whose only interface is loopback says
    // `navigator.onLine` is false from the start, yet reaches a server on that machine.
    this.wentOffline = false;
    window.addEventListener("offline", () => {
      if (this.closed) return;
      this.wentOffline = true;
      this.setStatus("offline");
      clearTimeout(this.retry);
      this.retry = null;
      // Let go of the socket now: with the network down its close event can take as long as
      // TCP does, and "online" must find no socket to connect a new one.
      const socket = this.socket;
      this.socket = null;
      socket?.close(4000, "offline");
    });
    window.addEventListener("online", () => {
      this.wentOffline = false;
      if (!this.closed && this.socket === null) this.connect();
    });
  }

  /** Registers `fn(message)` for a message `type`; "*" gets every message, "status" the state. */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(fn);
    return this;
  }

  emit(type, message) {
    for (const fn of this.handlers.get(type) ?? []) {
      try {
        fn(message);
      } catch (error) {
        console.error(`handler for ${type} failed`, error);
      }
    }
  }

  setStatus(status) {
    this.status = status;
    this.emit("status", status);
  }

  connect() {
    this.closed = false;
    clearTimeout(this.retry);
    this.retry = null;
    if (this.fetching || this.socket !== null) return this;
    this.fetching = true;
    this.setStatus("connecting");
    // A fresh single-use ticket for every (re)connect (tickets.js).
    ticketed(this.url).then(
      (url) => {
        this.fetching = false;
        this.open(url);
      },
      (error) => {
        this.fetching = false;
        if (error?.status === 401 || error?.status === 403) {
          this.closed = true;
          this.setStatus("refused");
          this.emit("error", { type: "error", code: "refused", message: error.message });
          return;
        }
        this.setStatus("offline");
        this.retryLater();
      },
    );
    return this;
  }

  /** Connects again after a backoff, unless closed or offline (the "online" event does then). */
  retryLater() {
    if (this.closed || this.wentOffline || this.retry !== null) return;
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.attempt);
    this.attempt += 1;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect();
    }, delay);
  }

  open(url) {
    if (this.closed || this.socket !== null) return;
    if (this.wentOffline) {
      this.setStatus("offline"); // went offline while the ticket came: "online" connects
      return;
    }
    const socket = new WebSocket(url);
    this.socket = socket;
    // Live once the room's snapshot has come and been shown, not when the socket opens: the
    // server has then checked who we are and joined us to the room (events sent from then on
    // reach this page), and what the page shows is the room as it is.
    socket.addEventListener("open", () => {
      this.attempt = 0;
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        console.warn("room socket sent a frame that is not JSON");
        return;
      }
      if (!message || typeof message.type !== "string") return;
      this.emit(message.type, message);
      this.emit("*", message);
      if (message.type === "room.snapshot" && this.status !== "connected") this.setStatus("connected");
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      // 1008: the server refused us (bad token, not a member); retrying will not help.
      if (event.code === 1008) {
        this.closed = true;
        this.setStatus("refused");
        this.emit("error", { type: "error", code: "refused", message: event.reason || "Not allowed in this room." });
        return;
      }
      this.setStatus("offline");
      this.retryLater(); // offline: the "online" event reconnects instead
    });
    return this;
  }

  /** Sends a command; false when the socket is not open (the caller tells the user). */
  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    this.retry = null;
    this.socket?.close(1000);
  }
}
