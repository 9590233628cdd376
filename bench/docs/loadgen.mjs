// Load generator for the document fan-out benchmark (see bench/README.md, "Document fan-out").
//
// Every client is a real Yjs document behind the stock y-websocket provider, as a browser tab
// would be. All clients of a run live in this ONE process so that send and receive times come
// from the same monotonic clock (performance.now()).
//
// Latency: each writer owns a key `w<i>` of the Y.Map "bench" and overwrites it at a fixed rate
// with [seq, sentAt]. Every other client of the room observes the map and records
// now - sentAt. A delivery is one (update, receiver) pair; an update sent during the measured
// window and not observed by a receiver by the end of the drain period is lost.
//
// Input: a JSON config file (argument 1). Output: one JSON object on stdout. Progress on stderr.

import { readFileSync } from 'node:fs'
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const {
  serverUrl, // e.g. ws://127.0.0.1:1234 or ws://127.0.0.1:8000/yjs
  rooms, // [{ name: "ROOM/DOC", tokens: [token per client] | null }]
  clientsPerRoom,
  writersPerRoom,
  hz,
  warmupSeconds,
  durationSeconds,
  drainSeconds = 10, // at most: the drain ends as soon as every in-window update arrived
  connectConcurrency = 50,
  connectTimeoutSeconds = 60,
  timeline = false, // also report latency per second of sending time
  // "spread": clients arrive over arrivalSeconds and their awareness states look 0-15 s old,
  // so renewals (each client re-announces itself every 15 s) come evenly, as in a class that
  // joined over a while. "burst": all at once, the worst case of a class opening one link.
  awareness = 'spread',
  arrivalSeconds = 3
} = config

process.setMaxListeners(0) // the provider adds one 'exit' listener per client in Node
const log = (msg) => process.stderr.write(`[loadgen] ${msg}\n`)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// Messages each way during the window, by kind: what the load generator's own work is made of.
const KINDS = { '0/0': 'sync step1', '0/1': 'sync step2', '0/2': 'update', 1: 'awareness' }
const traffic = { received: {}, sent: {} }
const countMessage = (way, data) => {
  if (!windowOpen) return
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data
  const kind = KINDS[bytes[0] === 0 ? `0/${bytes[1]}` : bytes[0]] || `other ${bytes[0]}`
  const entry = (traffic[way][kind] ||= { messages: 0, bytes: 0 })
  entry.messages += 1
  entry.bytes += bytes.byteLength
}

class CountingWebSocket extends WebSocket {
  constructor (...args) {
    super(...args)
    this.on('message', (data) => countMessage('received', data))
  }

  send (data, ...rest) {
    countMessage('sent', data)
    return super.send(data, ...rest)
  }
}

// Latency samples (ms), grown by doubling: up to a few million per run.
let samples = new Float64Array(1 << 16)
let sampleCount = 0
const record = (ms) => {
  if (sampleCount === samples.length) {
    const bigger = new Float64Array(samples.length * 2)
    bigger.set(samples)
    samples = bigger
  }
  samples[sampleCount++] = ms
}

// Whether updates sent now belong to the measured window (the flag travels inside the update).
let windowOpen = false
let draining = false
let seenTotal = 0 // in-window deliveries observed so far
let windowStart = 0
const timelineSamples = [] // flat pairs: second of the window, latency ms
// The load generator's own garbage collections, by second of the window: a pause here delays
// every receipt in flight, so a stall in the timeline can be told apart from the server's.
const gcBySecond = [] // second -> { ms, max }
const gcObserver = new PerformanceObserver((list) => {
  if (!timeline || windowStart === 0) return
  for (const entry of list.getEntries()) {
    const second = Math.floor((entry.startTime - windowStart) / 1000)
    if (second < 0) continue
    const bucket = (gcBySecond[second] ||= { ms: 0, max: 0 })
    bucket.ms += entry.duration
    bucket.max = Math.max(bucket.max, entry.duration)
  }
})
const clients = []
const writers = []

class Client {
  constructor (roomIndex, index, roomName, token) {
    this.roomIndex = roomIndex
    this.index = index
    this.roomName = roomName
    this.token = token
    this.provider = null
    this.doc = new Y.Doc()
    this.map = this.doc.getMap('bench')
    // Per-writer count of in-window updates observed (index: writer key).
    this.seen = new Map()
    this.map.observe((event, transaction) => {
      if (transaction.local) return
      const now = performance.now()
      for (const key of event.keysChanged) {
        const value = this.map.get(key)
        if (!Array.isArray(value)) continue
        const [, sentAt, inWindow] = value
        if (!inWindow || draining === 'done') continue
        record(now - sentAt)
        if (timeline) timelineSamples.push(Math.floor((sentAt - windowStart) / 1000), now - sentAt)
        this.seen.set(key, (this.seen.get(key) || 0) + 1)
        seenTotal += 1
      }
    })
  }

  connect (awarenessAgeMs) {
    // The provider (and its awareness, whose 3-s check timer starts now) is made on arrival.
    this.provider = new WebsocketProvider(serverUrl, this.roomName, this.doc, {
      WebSocketPolyfill: CountingWebSocket,
      params: this.token ? { token: this.token } : {},
      disableBc: true,
      connect: false
    })
    const meta = this.provider.awareness.meta.get(this.doc.clientID)
    if (meta) meta.lastUpdated -= awarenessAgeMs
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`client ${this.roomIndex}/${this.index}: not synced`)),
        connectTimeoutSeconds * 1000
      )
      this.provider.once('sync', () => {
        clearTimeout(timer)
        resolve()
      })
      this.provider.connect()
    })
  }
}

class Writer {
  constructor (client, key, phase) {
    this.client = client
    this.key = key
    this.phase = phase // fraction of a period, spreads writers over time
    this.seq = 0
    this.inWindow = 0
    this.timer = null
  }

  start (origin) {
    const period = 1000 / hz
    const first = origin + this.phase * period
    const tick = (k) => {
      const inWindow = windowOpen
      this.seq += 1
      if (inWindow) this.inWindow += 1
      this.client.map.set(this.key, [this.seq, performance.now(), inWindow])
      const next = first + (k + 1) * period
      this.timer = setTimeout(() => tick(k + 1), Math.max(0, next - performance.now()))
    }
    this.timer = setTimeout(() => tick(0), Math.max(0, first - performance.now()))
  }

  stop () {
    clearTimeout(this.timer)
  }
}

const percentile = (sorted, p) => {
  if (sorted.length === 0) return null
  const rank = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.max(0, rank)]
}

async function main () {
  const totalWriters = rooms.length * writersPerRoom
  rooms.forEach((room, r) => {
    for (let i = 0; i < clientsPerRoom; i++) {
      const token = room.tokens ? room.tokens[i % room.tokens.length] : null
      const client = new Client(r, i, room.name, token)
      clients.push(client)
      if (i < writersPerRoom) {
        writers.push(new Writer(client, `w${i}`, (r * writersPerRoom + i) / totalWriters))
      }
    }
  })

  const connectStart = performance.now()
  const spread = awareness === 'spread'
  let next = 0
  let failures = 0
  const worker = async () => {
    while (next < clients.length) {
      const k = next++
      const client = clients[k]
      // Low-discrepancy fractions: even, reproducible, and uncorrelated with arrival order.
      const arriveAt = connectStart + (spread ? (k / clients.length) * arrivalSeconds * 1000 : 0)
      const age = spread ? ((k * 0.6180339887) % 1) * 15000 : 0
      if (arriveAt > performance.now()) await sleep(arriveAt - performance.now())
      try {
        await client.connect(age)
      } catch (err) {
        failures += 1
        log(err.message)
      }
    }
  }
  await Promise.all(Array.from({ length: connectConcurrency }, worker))
  const connectSeconds = (performance.now() - connectStart) / 1000
  log(`${clients.length - failures}/${clients.length} clients synced in ${connectSeconds.toFixed(1)} s`)
  if (failures > 0) {
    finish({ error: `${failures} clients did not sync`, connectSeconds })
    return
  }

  const loopDelay = monitorEventLoopDelay({ resolution: 1 })
  const origin = performance.now() + 50
  for (const writer of writers) writer.start(origin)
  await sleep(warmupSeconds * 1000)

  loopDelay.enable()
  if (timeline) gcObserver.observe({ entryTypes: ['gc'] })
  const cpuStart = process.cpuUsage()
  const wallStart = performance.now()
  windowStart = wallStart
  windowOpen = true
  log('window open')
  await sleep(durationSeconds * 1000)
  windowOpen = false
  log('window closed')
  const wallSeconds = (performance.now() - wallStart) / 1000
  const cpu = process.cpuUsage(cpuStart)
  loopDelay.disable()
  gcObserver.disconnect()

  // Keep writing during the drain (outside the window) so that the load stays the same until
  // every in-window update arrived, or the drain time ran out: what is missing then is lost.
  const roomSize = new Map()
  for (const client of clients) roomSize.set(client.roomIndex, (roomSize.get(client.roomIndex) || 0) + 1)
  const expectedTotal = writers.reduce((n, w) => n + w.inWindow * (roomSize.get(w.client.roomIndex) - 1), 0)
  const drainStart = performance.now()
  while (seenTotal < expectedTotal && performance.now() - drainStart < drainSeconds * 1000) {
    await sleep(50)
  }
  draining = 'done'
  for (const writer of writers) writer.stop()

  let expected = 0
  let delivered = 0
  for (const writer of writers) {
    const receivers = clients.filter(
      (c) => c.roomIndex === writer.client.roomIndex && c !== writer.client
    )
    expected += writer.inWindow * receivers.length
    for (const receiver of receivers) delivered += receiver.seen.get(writer.key) || 0
  }
  const sorted = samples.subarray(0, sampleCount).sort()
  const sent = writers.reduce((n, w) => n + w.inWindow, 0)
  finish({
    clients: clients.length,
    rooms: rooms.length,
    writers: writers.length,
    hz,
    connectSeconds,
    seconds: wallSeconds,
    sent,
    sentPerSecond: sent / wallSeconds,
    expectedDeliveries: expected,
    deliveries: delivered,
    deliveriesPerSecond: delivered / wallSeconds,
    expectedPerSecond: expected / wallSeconds,
    lost: expected - delivered,
    latencyMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sampleCount ? sorted[sampleCount - 1] : null,
      count: sampleCount
    },
    timeline: timeline ? summarizeTimeline() : undefined,
    traffic,
    loadgen: {
      cpuPercent: (100 * (cpu.user + cpu.system)) / 1e6 / wallSeconds,
      rssMiB: process.memoryUsage().rss / 2 ** 20,
      // The histogram holds whole timer intervals: take the 1-ms resolution off.
      eventLoopDelayP99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - 1)
    }
  })
}

function summarizeTimeline () {
  const bySecond = []
  for (let i = 0; i < timelineSamples.length; i += 2) {
    const second = timelineSamples[i]
    ;(bySecond[second] ||= []).push(timelineSamples[i + 1])
  }
  return bySecond.map((values, second) => {
    const sorted = Float64Array.from(values).sort()
    return {
      second,
      count: sorted.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1],
      gcMs: gcBySecond[second]?.ms ?? 0,
      gcMaxMs: gcBySecond[second]?.max ?? 0
    }
  }).filter(Boolean)
}

function finish (result) {
  process.stdout.write(JSON.stringify(result) + '\n', () => {
    for (const client of clients) client.provider?.destroy()
    process.exit(result.error ? 1 : 0)
  })
}

main().catch((err) => {
  log(err.stack || String(err))
  process.exit(2)
})
