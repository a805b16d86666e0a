// Document phases: the large B4 document (fresh-client load, streamed ingest), offline
// reconnect, short-lived document churn and loaded idle documents for the memory figures.
import * as Y from 'yjs'
import { BenchClient } from './clients.mjs'
import { MARKER_LENGTH, marker, nowMs } from './measure.mjs'
import { applyTxns, loadTrace, textAfter } from './trace.mjs'
import { keep } from './rooms.mjs'

function traceSlice (path, txns) {
  const trace = loadTrace(path)
  const n = Math.min(txns ?? trace.txns.length, trace.txns.length)
  return { trace, n, expect: textAfter(trace, n) }
}

/**
 * The document after the first `n` transactions of the trace, as one encoded update. Built in a
 * plain Y.Doc and applied to a client's doc in one go: a provider then uploads it with its
 * normal sync (Hocuspocus's provider would otherwise queue and replay every edit made while
 * it was not yet connected).
 */
function buildDoc (tr, n) {
  const doc = new Y.Doc()
  const text = doc.getText('bench')
  text.insert(0, tr.startContent)
  applyTxns(tr, text, 0, n)
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}

function hasText (c, expect) {
  return () => c.text.length === expect.length && c.text.toString() === expect
}

async function flushed (c, timeoutMs) {
  const deadline = performance.now() + timeoutMs
  while (c.bufferedAmount > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * Large document: a writer builds the trace's document locally and uploads it by syncing; once a
 * verifier has it all, each fresh client's time from connect to a fully applied document is
 * measured, one after another. The writer stays connected so the document stays loaded.
 */
export async function b4load ({ target, writer, verifier, fresh, trace, txns, timeoutMs }) {
  const { trace: tr, n, expect } = traceSlice(trace, txns)
  let t = nowMs()
  const built = buildDoc(tr, n)
  const buildMs = nowMs() - t
  const docBytes = built.length
  const w = new BenchClient(target, writer, { connect: false })
  keep([w])
  Y.applyUpdate(w.doc, built)
  t = nowMs()
  w.connect()
  await w.waitSynced(timeoutMs)
  const v = new BenchClient(target, verifier)
  try {
    await v.waitSynced(timeoutMs)
    await v.waitFor(hasText(v, expect), timeoutMs, 'the uploaded document')
  } finally {
    v.destroy()
  }
  const uploadMs = nowMs() - t
  const times = []
  for (const spec of fresh) {
    const start = nowMs()
    const c = new BenchClient(target, spec)
    try {
      await c.waitSynced(timeoutMs)
      await c.waitFor(hasText(c, expect), timeoutMs, 'the document')
      times.push(nowMs() - start)
    } finally {
      c.destroy()
    }
  }
  return { txns: n, docBytes, textLength: expect.length, buildMs, uploadMs, times }
}

/**
 * Streamed ingest: the sender replays the trace as small updates (`batch` transactions per
 * update) with at most `window` transactions not yet seen by the observer; the rate is
 * transactions per second until the observer holds the final text.
 */
export async function b4ingest ({ target, sender, observer, trace, txns, window, batch, timeoutMs }) {
  const { trace: tr, n, expect } = traceSlice(trace, txns)
  const s = new BenchClient(target, sender)
  const o = new BenchClient(target, observer)
  keep([s, o])
  await Promise.all([s.waitSynced(timeoutMs), o.waitSynced(timeoutMs)])
  if (tr.startContent) s.text.insert(0, tr.startContent)
  const id = s.doc.clientID
  const clockAfter = new Float64Array(n)
  let i = 0
  let acked = 0
  const t0 = nowMs()
  const deadline = performance.now() + timeoutMs
  while (i < n) {
    const seen = Y.getState(o.doc.store, id)
    while (acked < i && clockAfter[acked] <= seen) acked++
    if (i - acked >= window) {
      if (performance.now() > deadline) throw new Error(`ingest stalled at ${acked}/${n}`)
      await o.nextChange(100)
      continue
    }
    const end = Math.min(n, i + batch)
    s.doc.transact(() => applyTxns(tr, s.text, i, end))
    const clock = Y.getState(s.doc.store, id)
    for (let k = i; k < end; k++) clockAfter[k] = clock
    i = end
    // Let the sockets breathe between bursts.
    if (i % 500 < batch) await new Promise((resolve) => setImmediate(resolve))
  }
  await o.waitFor(hasText(o, expect), Math.max(1000, deadline - performance.now()), 'ingest')
  const ms = nowMs() - t0
  return { txns: n, ms, rate: n / (ms / 1000) }
}

/**
 * Offline reconnect, per room: A and C stay online, B goes offline; A and B each make `edits`
 * edits; once C holds A's edits (so the server has them) B reconnects, and the time until A, B
 * and C hold the same text with both sides' edits is measured.
 */
export async function offline ({ target, rooms, edits, timeoutMs }) {
  const times = []
  let diverged = 0
  await Promise.all(rooms.map(async ({ a, b, c }) => {
    const [A, B, C] = [a, b, c].map((spec) => new BenchClient(target, spec))
    keep([A, B, C])
    await Promise.all([A, B, C].map((x) => x.waitSynced(timeoutMs)))
    await B.goOffline(timeoutMs)
    for (let k = 0; k < edits; k++) {
      A.text.insert(Math.floor(Math.random() * (A.text.length / MARKER_LENGTH + 1)) * MARKER_LENGTH, marker(A.sid, k))
      B.text.insert(Math.floor(Math.random() * (B.text.length / MARKER_LENGTH + 1)) * MARKER_LENGTH, marker(B.sid, k))
    }
    await C.waitFor(() => C.text.length === edits * MARKER_LENGTH, timeoutMs, 'online edits')
    const full = 2 * edits * MARKER_LENGTH
    const t0 = nowMs()
    B.synced = false
    B.connect()
    await Promise.all([A, B, C].map((x) => x.waitFor(() => x.text.length === full, timeoutMs, 'convergence')))
    times.push(nowMs() - t0)
    const texts = new Set([A, B, C].map((x) => x.text.toString()))
    if (texts.size !== 1) diverged++
  }))
  return { times, diverged }
}

/**
 * Short-lived documents: each spec's document is opened, edited once and closed, `concurrency`
 * at a time.
 */
export async function churn ({ target, specs, concurrency, timeoutMs }) {
  let next = 0
  let failed = 0
  const t0 = nowMs()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < specs.length) {
      const c = new BenchClient(target, specs[next++])
      try {
        await c.waitSynced(timeoutMs)
        c.text.insert(0, marker(c.sid, 0))
        await flushed(c, timeoutMs)
      } catch {
        failed++
      } finally {
        c.destroy()
      }
    }
  }))
  return { done: specs.length - failed, failed, ms: nowMs() - t0 }
}

/**
 * Loaded idle documents: each spec's client gets the first `txns` transactions of the trace
 * (a note with real editing history), uploads it by syncing and stays connected.
 */
export async function loaddocs ({ target, specs, trace, txns, concurrency, timeoutMs }) {
  const { trace: tr, n } = traceSlice(trace, txns)
  const built = buildDoc(tr, n)
  let next = 0
  let failed = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < specs.length) {
      const c = new BenchClient(target, specs[next++], { connect: false })
      keep([c])
      Y.applyUpdate(c.doc, built)
      c.connect()
      try {
        await c.waitSynced(timeoutMs)
        await flushed(c, timeoutMs)
      } catch {
        failed++
      }
    }
  }))
  return { loaded: specs.length - failed, failed }
}
