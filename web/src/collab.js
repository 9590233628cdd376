// One shared document: a Y.Doc synced over the stock y-websocket provider.
// The server speaks the unchanged y-websocket protocol at /yjs/{room}/{doc}, so the provider's
// own reconnect (with backoff) and resync keep offline edits: the Y.Doc lives on in memory while
// the socket is down and the sync handshake on reconnect merges both sides.
import * as Y from "yjs";
import * as decoding from "lib0/decoding";
import { WebsocketProvider, messageAuth } from "y-websocket";
import { TicketSocket } from "./tickets.js";

/**
 * The Y.Text that holds a document's source, for every client and the server (the server's
 * runs, demos and tests read the field "text").
 */
export const TEXT_KEY = "text";

const REFUSAL_RETRIES = 5;

// Colours for remote cursors: readable on white, distinct enough for a class of 30.
const COLOURS = ["#b3261e", "#1a6b2f", "#1f4fb5", "#8a4b00", "#6b2fa0", "#00707a", "#a3195b", "#4d5b00"];

export function colourFor(key) {
  let hash = 0;
  for (const ch of String(key)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return COLOURS[hash % COLOURS.length];
}

export function socketBase() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}`;
}

/**
 * Opens `doc` of `room` and returns {ydoc, ytext, provider, awareness, destroy}.
 * `user` ({id, name}) is published in awareness so others see who owns a cursor, unless `watch`.
 * `connect: false` opens it paused (see `resume`).
 * `onStatus(state, reason?)` gets "connecting" | "connected" | "synced" | "offline" | "denied"
 * (read-only) | "refused" (the server will not open it for us).
 */
export function openDoc({ room, doc, user, watch = false, connect = true, onStatus = () => {} }) {
  const ydoc = new Y.Doc();
  const provider = new WebsocketProvider(`${socketBase()}/yjs`, `${room}/${doc}`, ydoc, {
    connect,
    // Each (re)connect gets a fresh single-use ticket (tickets.js); no token in the page.
    WebSocketPolyfill: TicketSocket,
    maxBackoffTime: 2000,
    // Tabs of one browser must not sync behind the server's back: a read-only tab would
    // otherwise hand its edits to a writable one, and the offline story would be untestable.
    disableBc: true,
  });
  const colour = colourFor(user.id);
  // A watcher (the dashboard's grid) sees others' cursors but publishes no presence of its own.
  if (watch) provider.awareness.setLocalState(null);
  else {
    provider.awareness.setLocalStateField("user", {
      id: user.id,
      name: user.name,
      color: colour,
      colorLight: `${colour}33`,
    });
  }

  let denied = false;
  // The stock handler only logs a permission-denied auth frame; we also tell the page.
  provider.messageHandlers[messageAuth] = (_encoder, decoder) => {
    if (decoding.readVarUint(decoder) === 0) {
      const reason = decoding.readVarString(decoder);
      denied = true;
      console.warn(`read-only document ${doc}: ${reason}`);
      onStatus("denied");
    }
  };
  let refusal = null;
  let networkDown = false;
  let wanted = connect;
  const report = () => {
    if (refusal !== null) onStatus("refused", refusal);
    else if (networkDown || !provider.wsconnected) onStatus(provider.wsconnecting ? "connecting" : "offline");
    else if (denied) onStatus("denied");
    else onStatus(provider.synced ? "synced" : "connected");
  };
  provider.on("status", report);
  provider.on("sync", report);
  // 1008: the server refused this document (token, membership, name, a limit). Retrying at
  // once cannot help, but access can change (a new pair group, a freed socket; the server
  // caches roles a few seconds), so try again slowly a few times.
  let refusals = 0;
  let retry = null;
  provider.on("connection-close", (event) => {
    if (event?.code !== 1008) return;
    refusal = event.reason || "refused";
    provider.disconnect();
    console.warn(`document ${doc} refused: ${refusal}`);
    report();
    if (refusals < REFUSAL_RETRIES && wanted) {
      const delay = Math.min(30_000, 2000 * 2 ** refusals);
      refusals += 1;
      retry = setTimeout(() => {
        refusal = null;
        if (wanted && !networkDown) provider.connect();
      }, delay);
    }
  });
  provider.on("sync", (synced) => {
    if (synced) refusals = 0;
  });
  // A dropped network can leave a socket looking open until TCP gives up; the browser's own
  // offline/online events let us go offline at once and resync the moment it is back.
  // (Closing a socket with the network down can take long: we do not wait for its close event.)
  const offline = () => {
    networkDown = true;
    provider.disconnect();
    report();
  };
  const online = () => {
    networkDown = false;
    if (refusal === null && wanted) provider.connect();
    report();
  };
  window.addEventListener("offline", offline);
  window.addEventListener("online", online);
  report();

  return {
    ydoc,
    ytext: ydoc.getText(TEXT_KEY),
    provider,
    awareness: provider.awareness,
    /** Close the socket but keep the document (a tile scrolled out of view). */
    pause() {
      wanted = false;
      clearTimeout(retry);
      provider.disconnect();
    },
    /** Connect again and resync; also retries a document refused for a limit. */
    resume() {
      wanted = true;
      refusal = null;
      if (!networkDown) provider.connect();
    },
    destroy() {
      clearTimeout(retry);
      window.removeEventListener("offline", offline);
      window.removeEventListener("online", online);
      provider.destroy();
      ydoc.destroy();
    },
  };
}
