// Room phases: open many clients, edit or update awareness at a fixed rate, drain and check
// convergence, close. Every peer measures the latency of every edit it receives.
import crypto from 'node:crypto'
import { BenchClient } from './clients.mjs'
import { Histogram, nowMs } from './measure.mjs'

/** The clients of the current phase, in the order the orchestrator listed them. */
let clients = []
/** The awareness latency histogram of the current presence phase. */
let awHist = new Histogram()

export function destroyAll () {
  for (const c of clients) c.destroy()
  clients = []
}

async function sleepUntil (t) {
  const d = t - nowMs()
  if (d > 0) await new Promise((resolve) => setTimeout(resolve, d))
}

function countCodes (codes, into) {
  for (const code of codes) into[code] = (into[code] ?? 0) + 1
}

/**
 * Creates one client per spec (at `startAt`, a wall-clock ms shared by all workers, when given)
 * and waits until each one is synced. Reports each client's time to sync and the failures.
 */
export async function open ({ target, specs, startAt, timeoutMs }) {
  if (startAt) await sleepUntil(startAt)
  const t0 = startAt ?? nowMs()
  const created = specs.map((spec) => new BenchClient(target, spec))
  clients.push(...created)
  const times = []
  let failed = 0
  await Promise.all(created.map(async (c) => {
    try {
      await c.waitSynced(timeoutMs)
      times.push(nowMs() - t0)
    } catch {
      failed++
    }
  }))
  const closeCodes = {}
  for (const c of created) countCodes(c.closeCodes, closeCodes)
  return { synced: times.length, failed, times, closeCodes }
}

/** Every client inserts one marker every 1000/rate ms from `startAt` for `durationMs`. */
export async function edit ({ startAt, durationMs, rate }) {
  const hist = new Histogram()
  for (const c of clients) { c.recording = hist; c.received = 0; c.sent = 0 }
  const interval = 1000 / rate
  const end = startAt + durationMs
  await sleepUntil(startAt)
  await Promise.all(clients.map(async (c) => {
    // A random phase per client, so edits don't arrive in lockstep bursts.
    let next = startAt + Math.random() * interval
    while (next < end) {
      await sleepUntil(next)
      c.edit()
      next += interval
    }
  }))
  const sent = {}
  for (const c of clients) sent[c.spec.room] = (sent[c.spec.room] ?? 0) + c.sent
  return { sent }
}

/**
 * Waits until every client has received all edits of its room's other clients
 * (`expected[room]` is the room's total sent), then reports latencies and text hashes.
 */
export async function drain ({ expected, timeoutMs }) {
  const hist = clients[0]?.recording ?? new Histogram()
  let missing = 0
  await Promise.all(clients.map(async (c) => {
    const want = expected[c.spec.room] - c.sent
    try {
      await c.waitFor(() => c.received >= want, timeoutMs, 'edits')
    } catch {
      missing += want - c.received
    }
  }))
  let received = 0
  let lastReceiveAt = 0
  const hashes = {}
  for (const c of clients) {
    c.recording = null
    received += c.received
    lastReceiveAt = Math.max(lastReceiveAt, c.lastReceiveAt)
    const h = crypto.createHash('sha1').update(c.text.toString()).digest('hex')
    ;(hashes[c.spec.room] ??= []).push(h)
  }
  return { histogram: hist.toJSON(), received, missing, lastReceiveAt, hashes }
}

/**
 * Presence storm: every client sets its awareness cursor `rate` times a second. Peers measure
 * the latency of each cursor state they observe (states may be coalesced: presence is
 * latest-state-wins, so a skipped intermediate state is not a loss).
 */
export async function aware ({ startAt, durationMs, rate }) {
  const hist = new Histogram()
  awHist = hist
  const finals = {}
  for (const c of clients) {
    c.awSeen = new Map()
    c.awObserved = 0
    c.awareness.on('change', ({ added, updated }) => {
      const at = nowMs()
      for (const id of [...added, ...updated]) {
        const cur = c.awareness.getStates().get(id)?.cursor
        if (!cur || cur.sid === c.sid) continue
        if ((c.awSeen.get(cur.sid) ?? -1) >= cur.seq) continue
        c.awSeen.set(cur.sid, cur.seq)
        c.awObserved++
        if (c.awRecording) hist.add(at - cur.t)
      }
      c._wakeChange()
    })
    c.awRecording = true
    c.awSent = 0
  }
  const interval = 1000 / rate
  const end = startAt + durationMs
  await sleepUntil(startAt)
  await Promise.all(clients.map(async (c) => {
    let next = startAt + Math.random() * interval
    while (next < end) {
      await sleepUntil(next)
      c.awareness.setLocalStateField('cursor', {
        sid: c.sid, seq: c.awSent, t: nowMs(), anchor: Math.floor(Math.random() * 1000),
      })
      c.awSent++
      next += interval
    }
    ;(finals[c.spec.room] ??= {})[c.sid] = c.awSent - 1
  }))
  return { finals }
}

/** Waits until every client sees the last cursor of every other client in its room. */
export async function awdrain ({ finals, timeoutMs }) {
  let missing = 0
  const detail = []
  await Promise.all(clients.map(async (c) => {
    const want = Object.entries(finals[c.spec.room] ?? {}).filter(([sid]) => Number(sid) !== c.sid)
    const done = () => want.every(([sid, seq]) => (c.awSeen.get(Number(sid)) ?? -1) >= seq)
    try {
      await c.waitFor(done, timeoutMs, 'awareness')
    } catch {
      for (const [sid, seq] of want) {
        const seen = c.awSeen.get(Number(sid)) ?? -1
        if (seen >= seq) continue
        missing++
        if (detail.length < 10) detail.push({ at: c.sid, from: Number(sid), seen, final: seq })
      }
    }
    c.awRecording = false
  }))
  const observed = clients.reduce((n, c) => n + c.awObserved, 0)
  return { histogram: awHist.toJSON(), observed, missing, detail }
}

/** Destroys every client (each provider closes its socket). */
export async function close () {
  const n = clients.length
  destroyAll()
  return { closed: n }
}

/** Adds clients created by another module's phase, so `close` destroys them too. */
export function keep (more) {
  clients.push(...more)
}
