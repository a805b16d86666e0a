// The B4 editing trace (automerge-paper: {startContent, endContent, txns: [{patches: [[pos, del,
// text]]}]}), loaded once per worker, or a small synthetic trace of the same shape for --smoke runs
// on machines without the trace file.
import fs from 'node:fs'
import zlib from 'node:zlib'
import * as Y from 'yjs'

const cache = new Map()

/** Loads `path` (gzipped JSON) or, when path is "synthetic:<n>", makes an n-transaction trace. */
export function loadTrace (path) {
  if (cache.has(path)) return cache.get(path)
  let trace
  if (path.startsWith('synthetic:')) {
    trace = syntheticTrace(Number.parseInt(path.slice('synthetic:'.length), 10))
  } else {
    trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(path)).toString('utf8'))
  }
  cache.set(path, trace)
  return trace
}

function syntheticTrace (n) {
  // Typing with occasional corrections, deterministic so every server sees the same edits.
  const txns = []
  let text = ''
  let seed = 42
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  for (let i = 0; i < n; i++) {
    let patch
    if (text.length > 10 && rand() < 0.15) {
      patch = [Math.floor(rand() * text.length), 1, '']
    } else {
      const pos = rand() < 0.8 ? text.length : Math.floor(rand() * (text.length + 1))
      patch = [pos, 0, String.fromCharCode(97 + Math.floor(rand() * 26))]
    }
    text = text.slice(0, patch[0]) + patch[2] + text.slice(patch[0] + patch[1])
    txns.push({ patches: [patch] })
  }
  return { startContent: '', endContent: text, txns }
}

/** Applies transactions [from, to) of the trace to `ytext`, one Yjs transaction each. */
export function applyTxns (trace, ytext, from, to) {
  const doc = ytext.doc
  for (let i = from; i < to; i++) {
    const patches = trace.txns[i].patches
    doc.transact(() => {
      for (const [pos, del, ins] of patches) {
        if (del > 0) ytext.delete(pos, del)
        if (ins.length > 0) ytext.insert(pos, ins)
      }
    })
  }
}

/** The text after the first `count` transactions (for checking a prefix replay). */
export function textAfter (trace, count) {
  if (count >= trace.txns.length) return trace.endContent
  const doc = new Y.Doc()
  const t = doc.getText('bench')
  t.insert(0, trace.startContent)
  applyTxns(trace, t, 0, count)
  return t.toString()
}
