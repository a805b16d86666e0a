/**
 * The room document read into plain values (layout: docs/rooms.md, "Document layout"). These are
 * Yjs document entries written by the server, not REST responses, so their types live here.
 */
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'

export type Role = 'host' | 'co-host' | 'presenter' | 'participant' | 'viewer'
export type RoomPhase = 'scheduled' | 'waiting' | 'live' | 'ended' | 'cancelled'

export interface Participant {
  userId: string
  name: string
  role: Role
  joinedAt: number
  removed: boolean
}
export interface ChatMessage {
  id: string
  userId: string
  name: string
  text: string
  at: number
}
export interface Poll {
  id: string
  question: string
  options: string[]
  multiple: boolean
  status: 'draft' | 'open' | 'closed'
  published: boolean
  createdAt: number
}
export interface Tally {
  voters: number
  results: number[] | null
}
export interface Question {
  id: string
  text: string
  anonymous: boolean
  userId: string | null
  name: string | null
  status: 'open' | 'answered' | 'dismissed'
  at: number
  upvotes: number
}
export interface Hand {
  userId: string
  name: string
  at: number
}
export interface Media {
  mic: boolean
  camera: boolean
  screen: boolean
}
export interface Presence {
  online: boolean
  media: Media | null
}
export interface AgendaItem {
  title: string
  minutes: number
}
/** A countdown the host started: it ends at `startedAt + seconds * 1000` (server time). */
export interface Timer {
  startedAt: number
  seconds: number
  label: string
}
export interface Settings {
  chat?: boolean
  questions?: boolean
  anonymousQuestions?: boolean
  /** who may turn on microphone and camera besides hosts: `everyone` (default) or `hosts` */
  whoMayUnmute?: string
  /** who may share a screen besides hosts: `hosts` (default) or `everyone` */
  whoMayShare?: string
}

/** `state.recording` while the host records (docs/media.md, "Recording"). */
export interface Recording {
  userId: string
  startedAt: number
}
export type MediaSource = 'audio' | 'camera' | 'screen'
/** The `media` map: what each participant publishes through the relay, with mute state
 * (`forced` while a host's mute holds); the `p2p` map has the same shape. */
export type PublishedMedia = Map<string, Partial<Record<MediaSource, { muted: boolean; forced?: boolean }>>>
/** `state.speaker`: who speaks, measured by the server from the audio level of each voice
 * (docs/media.md, "Speakers"); updated at most four times a second. */
export interface Speakers {
  userId: string | null
  speaking: string[]
}
/** `state.mediaMode`: peer to peer for small meetings, else the relay (docs/media.md). */
export type MediaMode = 'p2p' | 'relay'

export function mediaModeOf(doc: Y.Doc): MediaMode {
  const value = doc.getMap<unknown>('state').get('mediaMode') as { mode?: string } | null | undefined
  return value?.mode === 'p2p' ? 'p2p' : 'relay'
}

export interface RoomView {
  status: RoomPhase
  title: string
  chatLocked: boolean
  settings: Settings
  participants: Participant[]
  chat: ChatMessage[]
  /** messageId → emoji → userIds */
  reactions: Map<string, Map<string, string[]>>
  polls: Poll[]
  tallies: Map<string, Tally>
  questions: Question[]
  hands: Hand[]
  presence: Map<string, Presence>
  agenda: AgendaItem[]
  agendaIndex: number | null
  timer: Timer | null
  media: PublishedMedia
  /** what members send peer to peer (the `p2p` map; empty in relay mode) */
  p2p: PublishedMedia
  mediaMode: MediaMode
  recording: Recording | null
  speaker: Speakers
}

export const HOSTS: ReadonlySet<Role> = new Set(['host', 'co-host'])

function readSpeakers(value: unknown): Speakers {
  const v = (value ?? {}) as { userId?: unknown; speaking?: unknown }
  return {
    userId: typeof v.userId === 'string' ? v.userId : null,
    speaking: Array.isArray(v.speaking) ? v.speaking.filter((u): u is string => typeof u === 'string') : [],
  }
}

export function readRoom(doc: Y.Doc, awareness: Awareness, me: string, connected: boolean): RoomView {
  const state = doc.getMap<unknown>('state')
  const participants = [...doc.getMap<Participant>('participants').values()]
  const reactions = new Map<string, Map<string, string[]>>()
  for (const key of doc.getMap<boolean>('reactions').keys()) {
    const [messageId, emoji, userId] = key.split('|')
    if (!messageId || !emoji || !userId) continue
    const byEmoji = reactions.get(messageId) ?? new Map<string, string[]>()
    byEmoji.set(emoji, [...(byEmoji.get(emoji) ?? []), userId])
    reactions.set(messageId, byEmoji)
  }
  const upvotes = doc.getMap<number>('upvoteCounts')
  const questions = [...doc.getMap<Omit<Question, 'upvotes'>>('questions').values()].map((q) => ({
    ...q,
    upvotes: Number(upvotes.get(q.id) ?? 0),
  }))
  const presence = new Map<string, Presence>()
  for (const [clientId, value] of awareness.getStates()) {
    const s = value as { user?: { id?: string }; media?: Media }
    // my own state is never echoed back stamped: it is mine while the socket is up
    const id = clientId === awareness.clientID ? (connected ? me : undefined) : s.user?.id
    if (id) presence.set(id, { online: true, media: s.media ?? null })
  }
  const order: Record<Role, number> = { host: 0, 'co-host': 1, presenter: 2, participant: 3, viewer: 4 }
  return {
    status: (state.get('status') as RoomPhase | undefined) ?? 'scheduled',
    title: (state.get('title') as string | undefined) ?? '',
    chatLocked: Boolean(state.get('chatLocked')),
    settings: (state.get('settings') as Settings | undefined) ?? {},
    participants: participants
      .filter((p) => !p.removed)
      .sort((a, b) => order[a.role] - order[b.role] || a.name.localeCompare(b.name)),
    chat: doc.getArray<ChatMessage>('chat').toArray(),
    reactions,
    polls: [...doc.getMap<Poll>('polls').values()].sort((a, b) => a.createdAt - b.createdAt),
    tallies: new Map(doc.getMap<Tally>('tallies').entries()),
    questions,
    hands: doc.getArray<Hand>('hands').toArray(),
    presence,
    agenda: doc.getArray<AgendaItem>('agenda').toArray(),
    agendaIndex: typeof state.get('agendaIndex') === 'number' ? (state.get('agendaIndex') as number) : null,
    timer: (state.get('timer') as Timer | null | undefined) ?? null,
    media: new Map(doc.getMap<Partial<Record<MediaSource, { muted: boolean; forced?: boolean }>>>('media').entries()),
    p2p: new Map(doc.getMap<Partial<Record<MediaSource, { muted: boolean; forced?: boolean }>>>('p2p').entries()),
    mediaMode: mediaModeOf(doc),
    recording: (state.get('recording') as Recording | null | undefined) ?? null,
    speaker: readSpeakers(state.get('speaker')),
  }
}
