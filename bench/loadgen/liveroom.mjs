// The live-room scenario (docs/rooms.md): one room, N attendees, presence once a second each,
// chat at a fixed room-wide rate, and a poll that collects a vote from every attendee within a
// window. Attendees are stock `yjs` documents synced by the stock provider of the server under
// test (see clients.mjs). Two modes:
//
// - "actions" (our server): the room is read-only; chat and votes are typed actions sent as
//   stateless messages (type 100) on the provider's socket, the server applies them and
//   computes the tally (`tallies[pollId]`), every attendee observes the change in its document.
// - "plain" (the anchors, which have no actions): the same workload as plain CRDT writes —
//   a chat message is a push onto the `chat` array, a vote is `votes[sid] = option`, and every
//   attendee counts the votes itself. Same traffic shape, none of the server-side rules.
//
// Awareness: every attendee sets its presence (media state) once a second. Only "probe"
// attendees decode the awareness messages they receive and measure presence latency; the others
// receive every awareness frame on their socket but drop it undecoded (a 500-attendee room
// delivers 250,000 presence states a second, which would make the load generator, not the
// server, the bottleneck on this machine). Everything else (sync, chat, tallies) every attendee
// applies and measures.
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { BenchClient, withTimeout } from './clients.mjs'
import { Histogram, nowMs } from './measure.mjs'
import { keep } from './rooms.mjs'

const STATELESS = 100
const AWARENESS = 1
// A reply this late counts as lost (the suite runs on a shared, sometimes saturated machine).
const ACT_TIMEOUT_MS = 120_000
const CHAT_RE = /^b(\d+):(\d+)@([0-9.]+)$/

/** This worker's attendees (and the host, when it lives here), in the orchestrator's order. */
let members = []
let chatHist = new Histogram()
let awHist = new Histogram()

async function sleepUntil (t) {
  const d = t - nowMs()
  if (d > 0) await new Promise((resolve) => setTimeout(resolve, d))
}

class Member {
  constructor (target, spec) {
    this.spec = spec
    this.sid = spec.sid
    this.mode = spec.mode
    this.c = new BenchClient(target, { ...spec, stateless: spec.mode === 'actions' })
    this.doc = this.c.doc
    this.next = 0
    this.pending = new Map()
    this.chatSent = 0
    this.chatSeen = 0
    this.recording = false
    this.awSeen = 0
    this.tally = null // {voters, results}: the last tally observed
    this.want = null // the expected final tally (JSON) while a poll runs
    this.tallyAt = 0 // when the expected final tally was first observed
    this.rejected = {}
    if (this.mode === 'actions') {
      this.c.provider.messageHandlers[STATELESS] = (_encoder, decoder) => {
        decoding.readVarUint(decoder) // status: always 0 for rooms
        const reply = JSON.parse(decoding.readVarString(decoder))
        const waiter = this.pending.get(reply.id)
        this.pending.delete(reply.id)
        if (waiter) waiter(reply)
      }
    }
    if (!spec.probe && this.c.provider.messageHandlers) { // y-websocket's provider only
      // Received, not decoded: see the header comment.
      this.c.provider.messageHandlers[AWARENESS] = () => { this.awSeen++ }
    } else {
      this.c.awareness.on('change', ({ added, updated }) => this._onAwareness(added, updated))
    }
    this.chat = this.doc.getArray('chat')
    this.chat.observe((event) => this._onChat(event))
    if (this.mode === 'actions') {
      this.tallies = this.doc.getMap('tallies')
      this.tallies.observe(() => this._onTally())
    } else {
      this.votes = this.doc.getMap('votes')
      this.counted = new Map() // sid -> option, to count incrementally
      this.counts = []
      this.votes.observe((event) => this._onVotes(event))
    }
  }

  _onAwareness (added, updated) {
    const at = nowMs()
    for (const id of [...added, ...updated]) {
      const media = this.c.awareness.getStates().get(id)?.media
      if (!media || media.sid === this.sid) continue
      this.awSeen++
      if (this.recording) awHist.add(at - media.t)
    }
  }

  _onChat (event) {
    const at = nowMs()
    for (const d of event.delta) {
      if (!d.insert) continue
      for (const msg of d.insert) {
        const m = CHAT_RE.exec(msg?.text ?? '')
        if (!m || Number(m[1]) === this.sid) continue
        this.chatSeen++
        if (this.recording) chatHist.add(at - Number.parseFloat(m[3]))
      }
    }
  }

  _onTally () {
    if (!this.pollId) return
    const t = this.tallies.get(this.pollId)
    if (!t) return
    this._seeTally({ voters: t.voters, results: t.results })
  }

  _onVotes (event) {
    for (const key of event.keysChanged) {
      const choice = this.votes.get(key)
      const old = this.counted.get(key)
      if (old !== undefined) this.counts[old]--
      this.counted.set(key, choice)
      this.counts[choice] = (this.counts[choice] ?? 0) + 1
    }
    const results = Array.from({ length: this.options ?? 0 }, (_, i) => this.counts[i] ?? 0)
    this._seeTally({ voters: this.counted.size, results })
  }

  _seeTally (tally) {
    this.tally = tally
    if (this.want && !this.tallyAt && JSON.stringify(tally) === this.want) {
      this.tallyAt = nowMs()
    }
  }

  /** One room action (actions mode): resolves with the server's reply. */
  act (action, fields = {}, timeoutMs = 30_000) {
    const id = String(++this.next)
    const reply = new Promise((resolve) => this.pending.set(id, resolve))
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, STATELESS)
    encoding.writeVarUint(encoder, 0)
    encoding.writeVarString(encoder, JSON.stringify({ id, action, ...fields }))
    const ws = this.c.provider.ws
    if (!ws || ws.readyState !== 1) return Promise.resolve({ ok: false, reason: 'offline' })
    ws.send(encoding.toUint8Array(encoder))
    return withTimeout(reply, timeoutMs, action).catch(() => ({ ok: false, reason: 'timeout' }))
  }

  async postChat () {
    const text = `b${this.sid}:${this.chatSent++}@${nowMs().toFixed(3)}`
    if (this.mode === 'plain') {
      this.chat.push([{ text, at: Date.now() }])
      return true
    }
    const reply = await this.act('chat.post', { text }, ACT_TIMEOUT_MS)
    if (!reply.ok) this.rejected[reply.reason] = (this.rejected[reply.reason] ?? 0) + 1
    return reply.ok
  }

  async vote (pollId, choice) {
    if (this.mode === 'plain') {
      this.votes.set(String(this.sid), choice)
      return true
    }
    const reply = await this.act('poll.vote', { pollId, choices: [choice] }, ACT_TIMEOUT_MS)
    if (!reply.ok) this.rejected[reply.reason] = (this.rejected[reply.reason] ?? 0) + 1
    return reply.ok
  }

  setPresence (seq) {
    this.c.awareness.setLocalStateField('media', {
      sid: this.sid, seq, t: nowMs(), mic: seq % 2 === 0, camera: seq % 3 === 0, screen: false,
    })
  }
}

/**
 * Creates this worker's members, `batch` at a time (each batch synced before the next starts:
 * attendees arrive over a few seconds, not in one instant; the connect storm is scenario 3),
 * and waits until every one is synced.
 */
export async function ropen ({ target, specs, timeoutMs, batch }) {
  let failed = 0
  const codes = {}
  const step = batch || specs.length
  for (let i = 0; i < specs.length; i += step) {
    const created = specs.slice(i, i + step).map((spec) => new Member(target, spec))
    members.push(...created)
    keep(created.map((m) => m.c)) // `close` destroys them with the other scenarios' clients
    await Promise.all(created.map(async (m) => {
      try {
        await m.c.waitSynced(timeoutMs)
      } catch {
        failed++
        for (const code of m.c.closeCodes) codes[code] = (codes[code] ?? 0) + 1
      }
    }))
  }
  return { synced: specs.length - failed, failed, closeCodes: codes }
}

/** One action by member `sid` (the host's poll.create/open/publish/results). */
export async function ract ({ sid, action, fields }) {
  const m = members.find((x) => x.sid === sid)
  if (!m) throw new Error(`no member ${sid} here`)
  return { reply: await m.act(action, fields) }
}

/**
 * The measured phase. From `startAt` for `durationMs`: every attendee sets its presence `awRate`
 * times a second (random phase), this worker posts `chatRate` chat messages a second from its
 * attendees in turn; when `poll` is given, every attendee votes `sid % options` at a random
 * moment of [poll.at, poll.at + poll.windowMs). Waits for the vote replies.
 */
export async function rrun ({ startAt, durationMs, awRate, chatRate, poll }) {
  chatHist = new Histogram()
  awHist = new Histogram()
  for (const m of members) {
    m.recording = true
    m.chatSeen = 0
    m.chatSent = 0
    m.awSeen = 0
    if (poll) {
      m.pollId = poll.id
      m.options = poll.options
      m.want = JSON.stringify(poll.want)
      m.tallyAt = 0
      if (m.tally && JSON.stringify(m.tally) === m.want) m.tallyAt = nowMs()
    }
  }
  const end = startAt + durationMs
  const attendees = members.filter((m) => !m.spec.host)
  const tasks = []
  // presence
  if (awRate > 0) {
    const interval = 1000 / awRate
    tasks.push(...members.map(async (m) => {
      let next = startAt + Math.random() * interval
      let seq = 0
      while (next < end) {
        await sleepUntil(next)
        m.setPresence(seq++)
        next += interval
      }
    }))
  }
  // chat: one sender after the other, round robin over this worker's attendees
  let chatOk = 0
  let chatTried = 0
  if (chatRate > 0 && attendees.length) {
    tasks.push((async () => {
      const interval = 1000 / chatRate
      let next = startAt + Math.random() * interval
      let i = Math.floor(Math.random() * attendees.length)
      const sends = []
      while (next < end) {
        await sleepUntil(next)
        const m = attendees[i++ % attendees.length]
        chatTried++
        sends.push(m.postChat().then((ok) => { if (ok) chatOk++ }))
        next += interval
      }
      await Promise.all(sends)
    })())
  }
  // the vote burst
  let votesOk = 0
  let voteReplyMax = 0
  let lastVoteAt = 0
  if (poll) {
    tasks.push(...attendees.map(async (m) => {
      await sleepUntil(poll.at + Math.random() * poll.windowMs)
      const t0 = nowMs()
      lastVoteAt = Math.max(lastVoteAt, t0)
      if (await m.vote(poll.id, m.sid % poll.options)) votesOk++
      voteReplyMax = Math.max(voteReplyMax, nowMs() - t0)
    }))
  }
  await sleepUntil(startAt)
  await Promise.all(tasks)
  const rejected = {}
  for (const m of members) {
    for (const [r, n] of Object.entries(m.rejected)) rejected[r] = (rejected[r] ?? 0) + n
    m.rejected = {}
  }
  return { chatSent: chatOk, chatTried, votesOk, voteReplyMax, lastVoteAt, rejected }
}

/**
 * Waits until every member has seen `chatTotal` chat messages from others (its own excluded)
 * and, with a poll, the expected final tally; then reports histograms and the tally figures.
 */
export async function rdrain ({ chatTotal, poll, timeoutMs }) {
  let chatMissing = 0
  let tallyMissing = 0
  const wrong = []
  await Promise.all(members.map(async (m) => {
    const want = chatTotal - m.chatSent
    const done = () => m.chatSeen >= want && (!poll || m.tallyAt > 0)
    try {
      await m.c.waitFor(done, timeoutMs, 'room')
    } catch {
      chatMissing += Math.max(0, want - m.chatSeen)
      if (poll && !m.tallyAt) {
        tallyMissing++
        if (wrong.length < 5) wrong.push({ sid: m.sid, tally: m.tally })
      }
    }
    m.recording = false
  }))
  const tallyTimes = members.map((m) => m.tallyAt).filter((t) => t > 0)
  return {
    chat: chatHist.toJSON(),
    presence: awHist.toJSON(),
    chatMissing,
    tallyMissing,
    wrong,
    lastTallyAt: tallyTimes.length ? Math.max(...tallyTimes) : 0,
    firstTallyAt: tallyTimes.length ? Math.min(...tallyTimes) : 0,
    awSeen: members.reduce((n, m) => n + m.awSeen, 0),
    members: members.length,
  }
}

/** Forgets this worker's members (the shared `close` destroys their providers). */
export async function rclose () {
  const n = members.length
  members = []
  return { closed: n }
}
