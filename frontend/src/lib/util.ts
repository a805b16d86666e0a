/** Small pure helpers: avatar initials and colours, relative times. */

/** Initials for an avatar: "Ada Lovelace" -> "AL". */
export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean)
  const first = parts[0] ?? '?'
  const last = parts[parts.length - 1] ?? ''
  const letters = parts.length > 1 ? (first[0] ?? '') + (last[0] ?? '') : first.slice(0, 2)
  return letters.toUpperCase()
}

// The server's palette (collab/awareness.py color_for): sha256(user id)[0] % 12. The server
// stamps this colour into every awareness state it relays, so each collaborator keeps one
// colour everywhere; two users share a colour only when their hashes collide (1 in 12).
const SERVER_PALETTE = [
  '#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#46f0f0',
  '#f032e6', '#bcf60c', '#008080', '#9a6324', '#800000', '#000075',
]

/** A stable colour for an id, used until the server's colour is known. */
export function colorFor(id: string): string {
  let hash = 0
  for (const ch of id) hash = (hash * 31 + ch.charCodeAt(0)) | 0
  return SERVER_PALETTE[Math.abs(hash) % SERVER_PALETTE.length] ?? '#4363d8'
}

/** The colour the server stamps for `id`, so our own avatar matches what others see. */
export async function serverColor(id: string): Promise<string> {
  if (!crypto?.subtle) return colorFor(id)
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(id)))
  return SERVER_PALETTE[(digest[0] ?? 0) % SERVER_PALETTE.length] ?? colorFor(id)
}

const DARK = '#1c2033'
const DARK_LUMINANCE = 0.0154

/**
 * Dark or white text, whichever contrasts more with `color` (a #rrggbb value). For every
 * colour of the palettes above the better one reaches 4.5:1 (WCAG AA for small text).
 */
export function textOn(color: string): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color)
  if (!m) return '#fff'
  const [r = 0, g = 0, b = 0] = m
    .slice(1)
    .map((x) => parseInt(x, 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
  const onWhite = 1.05 / (luminance + 0.05)
  const onDark = (luminance + 0.05) / (DARK_LUMINANCE + 0.05)
  return onWhite >= onDark ? '#fff' : DARK
}

export function relativeTime(iso: string | undefined | null): string {
  if (!iso) return ''
  const then = new Date(iso).getTime()
  if (Number.isNaN(then)) return ''
  const seconds = Math.round((Date.now() - then) / 1000)
  if (seconds < 45) return 'just now'
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `${minutes} min ago`
  const hours = Math.round(minutes / 60)
  if (hours < 24) return `${hours} h ago`
  return new Date(iso).toLocaleDateString(undefined, { month: 'short', day: 'numeric', year: 'numeric' })
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}
