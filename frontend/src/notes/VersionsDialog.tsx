/**
 * Version history: named and automatic versions, a read-only preview, and restore (the server
 * applies the old content as a new edit, so nothing is lost).
 */
import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'
import { useQuery, useQueryClient } from '@tanstack/react-query'
import * as Y from 'yjs'
import { Editor } from '@tiptap/core'
import StarterKit from '@tiptap/starter-kit'
import Collaboration from '@tiptap/extension-collaboration'
import { api, describe, must } from '../api/client'
import { keys, type Version } from '../api/notes'
import { relativeTime } from '../lib/util'
import { Icon } from '../ui/Icon'
import { Modal } from '../ui/Modal'
import { toast } from '../ui/toast'
import { FRAGMENT } from './Editor'

function base64ToBytes(value: string): Uint8Array {
  const bin = atob(value)
  const bytes = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i)
  return bytes
}

/** A read-only rendering of one version's encoded Yjs state. */
function Preview({ state }: { state: string }) {
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    if (!ref.current) return
    const doc = new Y.Doc()
    Y.applyUpdate(doc, base64ToBytes(state))
    const editor = new Editor({
      element: ref.current,
      editable: false,
      extensions: [StarterKit.configure({ undoRedo: false }), Collaboration.configure({ document: doc, field: FRAGMENT })],
      editorProps: { attributes: { class: 'prose', role: 'document', 'aria-label': 'Version preview', 'aria-readonly': 'true' } },
    })
    return () => {
      editor.destroy()
      doc.destroy()
    }
  }, [state])
  return <div className="preview-doc" ref={ref} />
}

export function VersionsDialog({ noteId, canRestore, onClose }: { noteId: string; canRestore: boolean; onClose: () => void }) {
  const client = useQueryClient()
  const versions = useQuery({
    queryKey: keys.versions(noteId),
    queryFn: async ({ signal }) =>
      must(await api.GET('/api/workbook/notes/{id}/versions', { params: { path: { id: noteId } }, signal })).versions,
    staleTime: 0,
  })
  const [selected, setSelected] = useState<Version | null>(null)
  const detail = useQuery({
    queryKey: [...keys.versions(noteId), selected?.id],
    enabled: selected !== null,
    queryFn: async ({ signal }) =>
      must(
        await api.GET('/api/workbook/notes/{id}/versions/{versionId}', {
          params: { path: { id: noteId, versionId: selected?.id ?? '' } },
          signal,
        }),
      ),
  })
  const [name, setName] = useState('')

  const save = async (ev: FormEvent) => {
    ev.preventDefault()
    const value = name.trim()
    if (!value) return
    try {
      must(await api.POST('/api/workbook/notes/{id}/versions', { params: { path: { id: noteId } }, body: { name: value } }))
      setName('')
      toast(`Saved version “${value}”`)
      await client.invalidateQueries({ queryKey: keys.versions(noteId) })
    } catch (err) {
      toast(describe(err), 'error')
    }
  }

  const restore = async () => {
    if (!selected) return
    try {
      must(
        await api.POST('/api/workbook/notes/{id}/versions/{versionId}/restore', {
          params: { path: { id: noteId, versionId: selected.id } },
        }),
      )
      toast('Version restored as a new edit. The previous text is still in the history.')
      void client.invalidateQueries({ queryKey: keys.versions(noteId) })
      onClose()
    } catch (err) {
      toast(describe(err), 'error')
    }
  }

  const onKey = (ev: KeyboardEvent<HTMLLIElement>, version: Version) => {
    const item = ev.currentTarget
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault()
      setSelected(version)
    }
    if (ev.key === 'ArrowDown') (item.nextElementSibling as HTMLElement | null)?.focus()
    if (ev.key === 'ArrowUp') (item.previousElementSibling as HTMLElement | null)?.focus()
  }

  const list = versions.data ?? []
  return (
    <Modal
      title="Version history"
      wide
      onClose={onClose}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            Close
          </button>
          <button type="button" className="btn btn-primary" disabled={!selected || !canRestore} onClick={() => void restore()}>
            <Icon name="history" />
            Restore this version
          </button>
        </>
      }
    >
      <form className="version-form" onSubmit={(ev) => void save(ev)}>
        <label htmlFor="version-name" className="label">
          Name the current version
        </label>
        <div className="share-form-row">
          <input
            id="version-name"
            className="input"
            placeholder="e.g. Before the workshop"
            maxLength={255}
            data-autofocus
            value={name}
            onChange={(ev) => setName(ev.target.value)}
          />
          <button type="submit" className="btn" disabled={!canRestore}>
            Save version
          </button>
        </div>
      </form>
      <div className="version-layout">
        <div className="version-col">
          {versions.isError ? <p className="field-error">{describe(versions.error)}</p> : null}
          {versions.isPending ? <p className="muted">Loading…</p> : null}
          {versions.isSuccess && !list.length ? (
            <p className="muted empty-row">No versions yet. Versions are saved automatically while you write, or name one above.</p>
          ) : null}
          {list.length ? (
            <ul className="version-list" role="listbox" aria-label="Versions">
              {list.map((version) => (
                <li
                  key={version.id}
                  role="option"
                  tabIndex={0}
                  className="version-item"
                  aria-selected={selected?.id === version.id}
                  onClick={() => setSelected(version)}
                  onKeyDown={(ev) => onKey(ev, version)}
                >
                  <span className="version-name">{version.name || (version.auto ? 'Automatic version' : 'Version')}</span>
                  <span className="version-meta">
                    {version.auto ? <span className="badge">auto</span> : <span className="badge badge-named">named</span>}{' '}
                    {relativeTime(version.createdAt)}
                  </span>
                </li>
              ))}
            </ul>
          ) : null}
        </div>
        <div className="version-preview" aria-live="polite">
          {!selected ? <p className="muted">Select a version to preview it.</p> : null}
          {selected && detail.isPending ? <p className="muted">Loading…</p> : null}
          {detail.isError ? <p className="field-error">{describe(detail.error)}</p> : null}
          {selected && detail.data ? <Preview key={selected.id} state={detail.data.version.state} /> : null}
        </div>
      </div>
    </Modal>
  )
}
