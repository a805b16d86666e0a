/**
 * A note's metadata lives in its Y.Doc, so renaming, tagging and filing work offline and merge
 * like the text: Y.Map `meta` with `title` (string), `tags` (string[], stored as one plain JSON
 * array value) and `folder` (string | null). The server mirrors it into the notes list.
 */
import type * as Y from 'yjs'

export const META = 'meta'
export type MetaKey = 'title' | 'tags' | 'folder'

export interface NoteMeta {
  title?: string
  tags?: string[]
  folder?: string | null
}

export function readMeta(doc: Y.Doc): NoteMeta {
  const map = doc.getMap<unknown>(META)
  const meta: NoteMeta = {}
  const title = map.get('title')
  if (typeof title === 'string') meta.title = title
  const tags = map.get('tags')
  if (Array.isArray(tags)) meta.tags = tags.filter((t): t is string => typeof t === 'string')
  if (map.has('folder')) {
    const folder = map.get('folder')
    meta.folder = typeof folder === 'string' && folder ? folder : null
  }
  return meta
}

export function writeMeta(doc: Y.Doc, change: NoteMeta): void {
  const map = doc.getMap<unknown>(META)
  doc.transact(() => {
    if (change.title !== undefined) map.set('title', change.title)
    if (change.tags !== undefined) map.set('tags', [...change.tags])
    if (change.folder !== undefined) map.set('folder', change.folder)
  })
}

/** Call `fn` with the metadata whenever it changes (locally or from others). */
export function observeMeta(doc: Y.Doc, fn: (meta: NoteMeta) => void): () => void {
  const map = doc.getMap<unknown>(META)
  const handler = () => fn(readMeta(doc))
  map.observe(handler)
  return () => map.unobserve(handler)
}
