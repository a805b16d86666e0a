/**
 * Collaborators from awareness: the caret/selection decorations in the editor and the
 * "here now" avatar stack. The server stamps `user: {id, name, color}` into every state it
 * relays, so what others see of us is what the server vouches for.
 */
import { Extension } from '@tiptap/core'
import { yCursorPlugin } from '@tiptap/y-tiptap'
import type { Awareness } from 'y-protocols/awareness'
import { colorFor, h, initials, mount, textOn } from './dom'

export interface AwarenessUser {
  id?: string
  name?: string
  color?: string
}

function cssColor(user: AwarenessUser, clientId: number): string {
  const color = user.color ?? ''
  if (/^#[0-9a-fA-F]{3,8}$/.test(color) || /^(rgb|hsl)a?\([^)]*\)$/.test(color)) return color
  return colorFor(user.id ?? String(clientId))
}

function withAlpha(color: string, alpha: string): string {
  return /^#[0-9a-fA-F]{6}$/.test(color) ? `${color}${alpha}` : color
}

/** TipTap extension rendering remote carets with a name label in the user's colour. */
export function collaboratorCarets(awareness: Awareness) {
  return Extension.create({
    name: 'collaboratorCarets',
    addProseMirrorPlugins() {
      return [
        yCursorPlugin(awareness, {
          cursorBuilder: (user: AwarenessUser, clientId: number) => {
            const color = cssColor(user, clientId)
            const caret = h('span', { class: 'remote-caret', style: { borderColor: color } })
            caret.setAttribute('data-user', user.name ?? 'Someone')
            const label = h('span', { class: 'remote-caret-label', style: { backgroundColor: color, color: textOn(color) } }, user.name ?? 'Someone')
            caret.append('\u2060', label, '\u2060')
            return caret
          },
          selectionBuilder: (user: AwarenessUser, clientId: number) => ({
            class: 'remote-selection',
            style: `background-color: ${withAlpha(cssColor(user, clientId), '55')}`,
          }),
        }),
      ]
    },
  })
}

interface Person {
  id: string
  name: string
  color: string
  self: boolean
}

/** The distinct people present in the document (one entry per user, however many tabs). */
export function peopleHere(awareness: Awareness): Person[] {
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
    people.set(id, { id, name: user.name ?? 'Someone', color: cssColor(user, clientId), self })
  })
  return [...people.values()].sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name))
}

/** Render the avatar stack into `el` and keep it current. Returns an unsubscribe function. */
export function bindAvatars(el: HTMLElement, awareness: Awareness): () => void {
  const render = () => {
    const people = peopleHere(awareness)
    const names = people.map((p) => (p.self ? `${p.name} (you)` : p.name))
    el.setAttribute('aria-label', people.length ? `Here now: ${names.join(', ')}` : 'Nobody else is here')
    const shown = people.slice(0, 5)
    mount(
      el,
      shown.map((p) =>
        h(
          'span',
          {
            class: `avatar${p.self ? ' avatar-self' : ''}`,
            style: { backgroundColor: p.color, color: textOn(p.color) },
            title: p.self ? `${p.name} (you)` : p.name,
            dataset: { userName: p.name },
          },
          initials(p.name),
        ),
      ),
      people.length > shown.length ? h('span', { class: 'avatar avatar-more' }, `+${people.length - shown.length}`) : null,
    )
  }
  awareness.on('change', render)
  render()
  return () => awareness.off('change', render)
}
