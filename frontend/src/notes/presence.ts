/**
 * Collaborators from awareness: the caret/selection rendering in the editor and the "here now"
 * people. The server stamps `user: {id, name, color}` into every state it relays, so what others
 * see of us is what the server vouches for. The server's colour comes from a 12-colour palette
 * by hash, so two people in one note can draw the same one: `distinctColors` gives everyone
 * present a different colour (the same on every client, which all see the same people).
 */
import type { DecorationAttrs } from '@tiptap/pm/view'
import type { Awareness } from 'y-protocols/awareness'
import { colorFor, textOn } from '../lib/util'

export interface AwarenessUser {
  id?: string
  name?: string
  color?: string
}

export interface Person {
  id: string
  name: string
  color: string
  self: boolean
}

const PALETTE = [
  '#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#008080',
  '#f032e6', '#9a6324', '#800000', '#000075', '#2f7d32', '#c2185b',
]

function validColor(color: string | undefined): color is string {
  return Boolean(color && (/^#[0-9a-fA-F]{3,8}$/.test(color) || /^(rgb|hsl)a?\([^)]*\)$/.test(color)))
}

/** One colour per person present: their own unless someone earlier (by id) already has it. */
export function distinctColors(awareness: Awareness): Map<string, string> {
  const wanted = new Map<string, string>()
  awareness.getStates().forEach((state, clientId) => {
    const user = (state?.user ?? {}) as AwarenessUser
    const id = user.id ?? `client-${clientId}`
    if (!wanted.has(id)) wanted.set(id, validColor(user.color) ? user.color : colorFor(id))
  })
  const used = new Set<string>()
  const result = new Map<string, string>()
  for (const id of [...wanted.keys()].sort()) {
    let color = wanted.get(id) ?? colorFor(id)
    if (used.has(color.toLowerCase())) color = PALETTE.find((c) => !used.has(c)) ?? color
    used.add(color.toLowerCase())
    result.set(id, color)
  }
  return result
}

function withAlpha(color: string, alpha: string): string {
  return /^#[0-9a-fA-F]{6}$/.test(color) ? `${color}${alpha}` : color
}

/** The caret builder for CollaborationCaret: a bar in the person's colour with their name. */
export function caretRenderer(awareness: Awareness) {
  return (user: Record<string, unknown>): HTMLElement => {
    const u = user as AwarenessUser
    const color = distinctColors(awareness).get(u.id ?? '') ?? (validColor(u.color) ? u.color : '#4363d8')
    const name = u.name ?? 'Someone'
    const caret = document.createElement('span')
    caret.className = 'remote-caret'
    caret.style.borderColor = color
    caret.dataset.user = name
    const label = document.createElement('span')
    label.className = 'remote-caret-label'
    label.style.backgroundColor = color
    label.style.color = textOn(color)
    label.textContent = name
    caret.append('\u2060', label, '\u2060')
    return caret
  }
}

export function selectionRenderer(awareness: Awareness) {
  return (user: Record<string, unknown>): DecorationAttrs => {
    const u = user as AwarenessUser
    const color = distinctColors(awareness).get(u.id ?? '') ?? (validColor(u.color) ? u.color : '#4363d8')
    return { class: 'remote-selection', style: `background-color: ${withAlpha(color, '55')}` }
  }
}

/** The distinct people present in the document (one entry per user, however many tabs). */
export function peopleHere(awareness: Awareness): Person[] {
  const colors = distinctColors(awareness)
  const people = new Map<string, Person>()
  awareness.getStates().forEach((state, clientId) => {
    const user = (state?.user ?? {}) as AwarenessUser
    if (!user.name && !user.id) return
    const id = user.id ?? `client-${clientId}`
    const self = clientId === awareness.clientID
    const existing = people.get(id)
    if (existing) {
      existing.self ||= self
      return
    }
    people.set(id, { id, name: user.name ?? 'Someone', color: colors.get(id) ?? colorFor(id), self })
  })
  return [...people.values()].sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name))
}
