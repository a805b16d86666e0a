/**
 * Title, tags and folder also go to the server with PATCH: at once while online, and after a
 * sync for the parts changed offline. A server that mirrors the note document's `meta` map
 * into its notes list needs none of this; it keeps servers without that mirror correct.
 */
import { api, describe, must, OfflineError } from '../api/client'
import type { Part } from '../collab/connection'
import { readMeta } from '../collab/meta'
import { isQueued } from '../collab/outbox'
import { toast } from '../ui/toast'
import type * as Y from 'yjs'

export interface MetaChange {
  title?: string
  tags?: string[]
  folder?: string | null
}

export async function sendMeta(noteId: string, change: MetaChange): Promise<void> {
  if (!navigator.onLine || isQueued(noteId) || !Object.keys(change).length) return
  try {
    must(await api.PATCH('/api/workbook/notes/{id}', { params: { path: { id: noteId } }, body: change }))
  } catch (err) {
    if (!(err instanceof OfflineError)) toast(describe(err), 'error')
  }
}

/** The document's current values of `parts` (all metadata when `parts` is omitted). */
export function metaChange(doc: Y.Doc, parts?: Set<Part>): MetaChange {
  const current = readMeta(doc)
  const want = (part: Part) => !parts || parts.has(part)
  const change: MetaChange = {}
  if (want('title') && current.title) change.title = current.title
  if (want('tags') && current.tags) change.tags = current.tags
  if (want('folder') && current.folder !== undefined) change.folder = current.folder
  return change
}
