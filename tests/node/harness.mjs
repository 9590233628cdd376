// Drives real y-websocket clients (the stock WebsocketProvider) for the Python tests.
//
// Protocol: one JSON command per line on stdin, one JSON reply per line on stdout, matched by
// "id". Commands run concurrently, so a test can start many clients or typists at once.
// Every reply is {"id", "ok": true, ...} or {"id", "ok": false, "error"}.
//
//   open       {client, url, doc, token, name?}  -> {clientId, synced, close?}
//              waits for "synced", or for a close before it (then the client is destroyed,
//              so the provider does not retry): close = {code, reason}
//   open_many  {clients: [open args...]}         -> {results: [...]}  (all created in one tick)
//   insert     {client, field?, index?, text}    -> {}                (index default: end)
//   type       {client, field?, text, every_ms?} -> {}                one character at a time
//   text       {client, field?}                  -> {text}
//   wait_text  {client, field?, equals?, contains?, length?, min_length?, timeout_ms?} -> {text}
//   set_awareness {client, state}                -> {}
//   awareness  {client}                          -> {states: {clientId: state}} (remote only)
//   wait_awareness {client, count?, includes?, timeout_ms?} -> {states}  until exactly count
//              remote states and/or one equal to includes
//   wait_synced {client, closes?, timeout_ms?}   -> {closes, syncs, at}  connected and synced after at
//              least `closes` closes (every close {code, reason, at} and sync time of the
//              client's life is kept: Date.now() milliseconds)
//   info       {client}                          -> {connected, synced, denied: [...], closes, heard_at, received}
//              heard_at: when the provider last received a message (its own liveness clock:
//              it closes a socket that heard nothing for 30 s), Date.now() milliseconds
//   wait_received {client, count, timeout_ms?}   -> {received}  once `count` messages were handled
//   wait_denied {client, timeout_ms?}            -> {denied}  once a permission-denied arrived
//   kill_socket {client}                         -> {}  drop the TCP connection, say nothing
//   destroy    {client}                          -> {}
//   exit       {}                                -> process ends
import readline from 'node:readline'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { WebsocketProvider } from 'y-websocket'

const clients = new Map()

const reply = (message) => process.stdout.write(JSON.stringify(message) + '\n')

const fieldOf = (client, field) => client.doc.getText(field || 'text')

function get (name) {
  const client = clients.get(name)
  if (!client) throw new Error(`no client ${name}`)
  return client
}

function open ({ client: name, url, doc: docName, token, name: user }) {
  if (clients.has(name)) throw new Error(`client ${name} exists`)
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(url, docName, doc, {
    params: token ? { token } : {},
    WebSocketPolyfill: WebSocket,
    disableBc: true, // Node has BroadcastChannel: clients would sync without the server
    maxBackoffTime: 500
  })
  const client = { name, doc, provider, denied: [], closes: [], syncs: [] }
  const authHandler = provider.messageHandlers[2]
  provider.messageHandlers[2] = (encoder, decoder, prov, emitSynced, type) => {
    // Record what the provider only logs (auth: 0 = permission denied, then the reason).
    const copy = decoding.clone(decoder)
    const kind = decoding.readVarUint(copy)
    client.denied.push({ kind, reason: decoding.readVarString(copy) })
    const originalWarn = console.warn
    console.warn = () => {}
    try { authHandler(encoder, decoder, prov, emitSynced, type) } finally { console.warn = originalWarn }
  }
  // Every message the provider handles, of any type (info.received; wait_received).
  client.received = 0
  provider.messageHandlers = provider.messageHandlers.map((handler) => (...args) => {
    client.received += 1
    return handler(...args)
  })
  if (user) provider.awareness.setLocalStateField('user', { name: user })
  // Every close, for the whole life of the client (a reconnecting provider has many).
  provider.on('connection-close', (event) => {
    client.closes.push({ code: event.code, reason: String(event.reason || ''), at: Date.now() })
  })
  provider.on('sync', (synced) => { if (synced) client.syncs.push(Date.now()) })
  clients.set(name, client)
  return new Promise((resolve) => {
    const onSync = (synced) => {
      if (!synced) return
      provider.off('sync', onSync)
      provider.off('connection-close', onClose)
      resolve({ clientId: doc.clientID, synced: true })
    }
    const onClose = (event) => {
      const close = { code: event.code, reason: String(event.reason || '') }
      if (provider.synced) return
      provider.off('sync', onSync)
      provider.off('connection-close', onClose)
      provider.destroy()
      clients.delete(name)
      resolve({ clientId: doc.clientID, synced: false, close })
    }
    provider.on('sync', onSync)
    provider.on('connection-close', onClose)
  })
}

function waitFor (client, check, timeoutMs, what, events = ['update']) {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const result = check()
      if (result !== undefined) {
        finish()
        resolve(result)
      }
    }
    const timer = setTimeout(() => {
      finish()
      reject(new Error(`timeout waiting for ${what}; now ${JSON.stringify(check.last ? check.last() : null)}`))
    }, timeoutMs || 10000)
    const finish = () => {
      clearTimeout(timer)
      client.doc.off('update', attempt)
      client.provider.awareness.off('change', attempt)
    }
    if (events.includes('update')) client.doc.on('update', attempt)
    if (events.includes('awareness')) client.provider.awareness.on('change', attempt)
    attempt()
  })
}

function remoteStates (client) {
  const states = {}
  for (const [id, state] of client.provider.awareness.getStates()) {
    if (id !== client.doc.clientID) states[id] = state
  }
  return states
}

const commands = {
  open,
  async open_many ({ clients: specs }) {
    const results = await Promise.all(specs.map((spec) => open(spec)))
    return { results }
  },
  insert ({ client: name, field, index, text }) {
    const t = fieldOf(get(name), field)
    t.insert(index === undefined || index === null ? t.length : index, text)
    return {}
  },
  async type ({ client: name, field, text, every_ms: every }) {
    const client = get(name)
    const t = fieldOf(client, field)
    for (const ch of text) {
      t.insert(t.length, ch)
      await new Promise((resolve) => setTimeout(resolve, every || 0))
      if (!clients.has(name)) break
    }
    return {}
  },
  replace_all ({ client: name, field, find, replace }) {
    // An editor's "replace all": every occurrence, last first, in one transaction.
    const client = get(name)
    const t = fieldOf(client, field)
    const text = t.toString()
    let count = 0
    client.doc.transact(() => {
      for (let at = text.lastIndexOf(find); at !== -1; at = at ? text.lastIndexOf(find, at - 1) : -1) {
        t.delete(at, find.length)
        t.insert(at, replace)
        count += 1
      }
    })
    return { count }
  },
  text ({ client: name, field }) {
    return { text: fieldOf(get(name), field).toString() }
  },
  async wait_text ({ client: name, field, equals, contains, length, min_length: minLength, timeout_ms: timeoutMs }) {
    const client = get(name)
    const t = fieldOf(client, field)
    const check = () => {
      const text = t.toString()
      if (equals !== undefined && text !== equals) return undefined
      if (length !== undefined && text.length !== length) return undefined
      if (minLength !== undefined && text.length < minLength) return undefined
      if (contains && !contains.every((part) => text.includes(part))) return undefined
      return { text }
    }
    check.last = () => t.toString()
    return waitFor(client, check, timeoutMs, 'text')
  },
  set_awareness ({ client: name, state }) {
    get(name).provider.awareness.setLocalState(state)
    return {}
  },
  awareness ({ client: name }) {
    return { states: remoteStates(get(name)) }
  },
  async wait_awareness ({ client: name, count, includes, timeout_ms: timeoutMs }) {
    const client = get(name)
    const wanted = includes === undefined ? null : JSON.stringify(includes)
    const check = () => {
      const states = remoteStates(client)
      if (count !== undefined && Object.keys(states).length !== count) return undefined
      if (wanted !== null && !Object.values(states).some((s) => JSON.stringify(s) === wanted)) return undefined
      return { states }
    }
    check.last = () => remoteStates(client)
    return waitFor(client, check, timeoutMs, `awareness ${count} ${wanted}`, ['awareness'])
  },
  wait_synced ({ client: name, closes, timeout_ms: timeoutMs }) {
    // Connected and synced again after at least `closes` closes (a restart's 1012, say).
    const client = get(name)
    const check = () => {
      const { provider } = client
      if (client.closes.length < (closes || 0) || !provider.wsconnected || !provider.synced) return undefined
      return { closes: client.closes, syncs: client.syncs, at: Date.now() }
    }
    check.last = () => ({ closes: client.closes.length, connected: client.provider.wsconnected })
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const result = check()
        if (result === undefined) return
        finish()
        resolve(result)
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`timeout waiting for a synced reconnect; now ${JSON.stringify(check.last())}`))
      }, timeoutMs || 10000)
      const finish = () => {
        clearTimeout(timer)
        client.provider.off('sync', attempt)
        client.provider.off('connection-close', attempt)
      }
      client.provider.on('sync', attempt)
      client.provider.on('connection-close', attempt)
      attempt()
    })
  },
  info ({ client: name }) {
    const { provider, denied, closes, received } = get(name)
    const heardAt = provider.wsLastMessageReceived
    return { connected: provider.wsconnected, synced: provider.synced, denied, closes, heard_at: heardAt, received }
  },
  async wait_received ({ client: name, count, timeout_ms: timeoutMs }) {
    const client = get(name)
    const deadline = Date.now() + (timeoutMs || 10000)
    while (client.received < count) {
      if (Date.now() > deadline) throw new Error(`timeout: ${client.received} messages received, not ${count}`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    return { received: client.received }
  },
  async wait_denied ({ client: name, timeout_ms: timeoutMs }) {
    const client = get(name)
    const deadline = Date.now() + (timeoutMs || 10000)
    while (client.denied.length === 0) {
      if (Date.now() > deadline) throw new Error('timeout waiting for permission denied')
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    return { denied: client.denied }
  },
  kill_socket ({ client: name }) {
    // Vanish like a crashed tab: no awareness goodbye, no close handshake, no reconnect.
    const client = get(name)
    client.provider.shouldConnect = false
    client.provider.ws.terminate()
    clients.delete(name)
    return {}
  },
  destroy ({ client: name }) {
    const client = clients.get(name)
    if (client) {
      client.provider.destroy()
      clients.delete(name)
    }
    return {}
  },
  exit () {
    for (const client of clients.values()) client.provider.destroy()
    setImmediate(() => process.exit(0))
    return {}
  }
}

const lines = readline.createInterface({ input: process.stdin })
lines.on('line', async (line) => {
  if (!line.trim()) return
  let message
  try {
    message = JSON.parse(line)
  } catch (error) {
    reply({ id: null, ok: false, error: `bad JSON: ${error.message}` })
    return
  }
  const { id, op, ...args } = message
  try {
    const handler = commands[op]
    if (!handler) throw new Error(`unknown op ${op}`)
    reply({ id, ok: true, ...(await handler(args)) })
  } catch (error) {
    reply({ id, ok: false, error: String(error && error.message ? error.message : error) })
  }
})
lines.on('close', () => {
  for (const client of clients.values()) client.provider.destroy()
  process.exit(0)
})
