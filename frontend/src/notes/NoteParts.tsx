/** Pieces of the note header: sync status, people here, tags, folder, export menu. */
import { useEffect, useRef, useState, useSyncExternalStore, type KeyboardEvent } from 'react'
import type { Awareness } from 'y-protocols/awareness'
import type { SyncState } from '../collab/connection'
import { initials, plural, textOn } from '../lib/util'
import { Icon } from '../ui/Icon'
import { toast } from '../ui/toast'
import { exportNote, type ExportFormat } from './exporter'
import { peopleHere, type Person } from './presence'

export function statusText(state: SyncState): string {
  switch (state.kind) {
    case 'loading':
      return 'Opening…'
    case 'saved':
      return 'Saved'
    case 'syncing':
      return state.pending ? `Syncing ${plural(state.pending, 'change')}…` : 'Syncing…'
    case 'offline':
      if (state.queued) return `Offline, ${plural(state.pending, 'change')} pending (the note is created when you reconnect)`
      return state.pending ? `Offline, ${plural(state.pending, 'change')} pending` : 'Offline, all changes kept on this device'
    case 'error':
      return state.message ?? 'Not syncing'
  }
}

/**
 * The pill changes on every keystroke (saved/syncing), so it is not a live region; the
 * announcer speaks only when going offline, failing, or coming back.
 */
export function SyncStatus({ state }: { state: SyncState }) {
  const [announce, setAnnounce] = useState('')
  const last = useRef({ kind: '', wasOffline: false })
  useEffect(() => {
    const prev = last.current
    if (state.kind === prev.kind) return
    if (state.kind === 'offline' || state.kind === 'error') {
      setAnnounce(statusText(state))
      prev.wasOffline = state.kind === 'offline'
    } else if (state.kind === 'saved' && prev.wasOffline) {
      setAnnounce('Back online, all changes synced')
      prev.wasOffline = false
    }
    prev.kind = state.kind
  }, [state])
  return (
    <>
      <span className="sync-status" id="sync-status" aria-live="off" data-state={state.kind} data-pending={state.pending}>
        {statusText(state)}
      </span>
      <span className="visually-hidden" role="status" aria-live="polite">
        {announce}
      </span>
    </>
  )
}

function usePeople(awareness: Awareness): Person[] {
  const cache = useRef<{ key: string; people: Person[] }>({ key: '', people: [] })
  return useSyncExternalStore(
    (fn) => {
      awareness.on('change', fn)
      return () => awareness.off('change', fn)
    },
    () => {
      const people = peopleHere(awareness)
      const key = JSON.stringify(people)
      if (key !== cache.current.key) cache.current = { key, people }
      return cache.current.people
    },
  )
}

export function Avatars({ awareness }: { awareness: Awareness }) {
  const people = usePeople(awareness)
  const names = people.map((p) => (p.self ? `${p.name} (you)` : p.name))
  const shown = people.slice(0, 5)
  return (
    <div className="avatars" role="group" id="here-now" aria-label={people.length ? `Here now: ${names.join(', ')}` : 'Nobody else is here'}>
      {shown.map((p) => (
        <span
          key={p.id}
          className={`avatar${p.self ? ' avatar-self' : ''}`}
          style={{ backgroundColor: p.color, color: textOn(p.color) }}
          title={p.self ? `${p.name} (you)` : p.name}
          data-user-name={p.name}
          aria-hidden="true"
        >
          {initials(p.name)}
        </span>
      ))}
      {people.length > shown.length ? (
        <span className="avatar avatar-more" aria-hidden="true">
          +{people.length - shown.length}
        </span>
      ) : null}
    </div>
  )
}

export function TagsField({ tags, editable, onChange }: { tags: string[]; editable: boolean; onChange: (tags: string[]) => void }) {
  const [value, setValue] = useState('')
  const onKeyDown = (ev: KeyboardEvent<HTMLInputElement>) => {
    if (ev.key === 'Enter' || ev.key === ',') {
      ev.preventDefault()
      const tag = value.trim().replace(/^#/, '')
      setValue('')
      if (tag && !tags.includes(tag)) onChange([...tags, tag])
    } else if (ev.key === 'Backspace' && !value && tags.length) {
      onChange(tags.slice(0, -1))
    }
  }
  return (
    <div className="tags">
      <Icon name="tag" />
      <ul className="tag-list" aria-label="Tags">
        {tags.map((tag) => (
          <li key={tag} className="chip">
            #{tag}
            {editable ? (
              <button type="button" className="chip-remove" aria-label={`Remove tag ${tag}`} onClick={() => onChange(tags.filter((t) => t !== tag))}>
                ×
              </button>
            ) : null}
          </li>
        ))}
      </ul>
      {editable ? (
        <input
          id="tag-input"
          className="tag-input"
          placeholder="Add tag"
          maxLength={50}
          aria-label="Add a tag"
          value={value}
          onChange={(ev) => setValue(ev.target.value)}
          onKeyDown={onKeyDown}
        />
      ) : null}
    </div>
  )
}

export function FolderField({ folder, folders, editable, onChange }: { folder: string | null; folders: string[]; editable: boolean; onChange: (folder: string | null) => void }) {
  const [value, setValue] = useState(folder ?? '')
  useEffect(() => setValue(folder ?? ''), [folder])
  if (!editable) {
    return folder ? (
      <div className="tags folder-field">
        <Icon name="folder" />
        <span className="chip">{folder}</span>
      </div>
    ) : null
  }
  const commit = () => {
    const next = value.trim() || null
    if (next !== folder) onChange(next)
  }
  return (
    <div className="tags folder-field">
      <Icon name="folder" />
      <input
        id="folder-input"
        className="tag-input folder-input"
        placeholder="No folder"
        maxLength={255}
        list="folder-options"
        aria-label="Folder"
        value={value}
        onChange={(ev) => setValue(ev.target.value)}
        onBlur={commit}
        onKeyDown={(ev) => {
          if (ev.key === 'Enter') {
            ev.preventDefault()
            commit()
          }
        }}
      />
      <datalist id="folder-options">
        {folders.map((f) => (
          <option key={f} value={f} />
        ))}
      </datalist>
    </div>
  )
}

const FORMATS: [ExportFormat, string][] = [
  ['md', 'Markdown (.md)'],
  ['pdf', 'PDF document (.pdf)'],
  ['json', 'JSON with metadata (.json)'],
]

export function ExportMenu({ noteId, title }: { noteId: string; title: string }) {
  const [open, setOpen] = useState(false)
  const wrap = useRef<HTMLDivElement>(null)
  const button = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    if (!open) return
    wrap.current?.querySelector<HTMLElement>('[role=menuitem]')?.focus()
    const outside = (ev: MouseEvent) => {
      if (!wrap.current?.contains(ev.target as Node)) setOpen(false)
    }
    document.addEventListener('click', outside)
    return () => document.removeEventListener('click', outside)
  }, [open])
  const onKeyDown = (ev: KeyboardEvent<HTMLDivElement>) => {
    const items = [...(wrap.current?.querySelectorAll<HTMLElement>('[role=menuitem]') ?? [])]
    const i = items.indexOf(document.activeElement as HTMLElement)
    if (ev.key === 'Escape') {
      setOpen(false)
      button.current?.focus()
    }
    if (ev.key === 'ArrowDown') {
      ev.preventDefault()
      items[(i + 1) % items.length]?.focus()
    }
    if (ev.key === 'ArrowUp') {
      ev.preventDefault()
      items[(i - 1 + items.length) % items.length]?.focus()
    }
  }
  return (
    <div className="menu-wrap" ref={wrap}>
      <button
        ref={button}
        type="button"
        className="btn btn-ghost"
        aria-label="Export"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls="export-menu"
        id="export-button"
        onClick={() => setOpen((o) => !o)}
      >
        <Icon name="download" />
        <span className="btn-label">Export</span>
      </button>
      <div className="menu" role="menu" id="export-menu" aria-labelledby="export-button" hidden={!open} onKeyDown={onKeyDown}>
        {FORMATS.map(([format, label]) => (
          <button
            key={format}
            type="button"
            role="menuitem"
            className="menu-item"
            data-format={format}
            onClick={() => {
              setOpen(false)
              exportNote(noteId, title, format).catch((err: unknown) => toast(`Export failed: ${(err as Error).message}`, 'error'))
            }}
          >
            {label}
          </button>
        ))}
      </div>
    </div>
  )
}
