// Edit markers and latency histograms shared by every load-generator scenario.
//
// An edit is one Y.Text insert of a fixed-length marker carrying the sender's wall-clock send time
// (performance.timeOrigin + performance.now(): the same clock in every process on this machine).
// Fixed length matters: edits are inserted only at marker boundaries, so no marker is ever split
// by another one and every peer can parse the markers out of the inserted strings it observes.

export const MARKER_LENGTH = 32
const MARKER_RE = /\{([0-9a-z]{5}):([0-9]{6})@([0-9]{13}\.[0-9]{3})\}/g

/** Wall-clock milliseconds with microsecond resolution, comparable across processes. */
export function nowMs () {
  return performance.timeOrigin + performance.now()
}

/** A marker for edit number `seq` of sender `sid` (a small integer), stamped now. */
export function marker (sid, seq) {
  const id = sid.toString(36).padStart(5, '0')
  const s = String(seq % 1000000).padStart(6, '0')
  return `{${id}:${s}@${nowMs().toFixed(3)}}`
}

/** Calls fn(sid, seq, sentAtMs) for every marker in an inserted string. */
export function parseMarkers (text, fn) {
  MARKER_RE.lastIndex = 0
  let m
  while ((m = MARKER_RE.exec(text)) !== null) {
    fn(Number.parseInt(m[1], 36), Number.parseInt(m[2], 10), Number.parseFloat(m[3]))
  }
}

/** A random insert position on a marker boundary of a text made only of markers. */
export function boundary (ytext) {
  const n = Math.floor(ytext.length / MARKER_LENGTH)
  return MARKER_LENGTH * Math.floor(Math.random() * (n + 1))
}

const LOG_BASE = Math.log(1.01)

/**
 * A log-bucketed latency histogram (1 % resolution), cheap to fill and to merge across
 * processes: buckets are keyed by floor(log_1.01(microseconds)).
 */
export class Histogram {
  constructor () {
    this.buckets = new Map()
    this.count = 0
    this.max = 0
    this.sum = 0
  }

  add (ms) {
    const us = Math.max(1, ms * 1000)
    const b = Math.floor(Math.log(us) / LOG_BASE)
    this.buckets.set(b, (this.buckets.get(b) ?? 0) + 1)
    this.count++
    this.sum += ms
    if (ms > this.max) this.max = ms
  }

  toJSON () {
    return { buckets: Object.fromEntries(this.buckets), count: this.count, max: this.max, sum: this.sum }
  }
}
