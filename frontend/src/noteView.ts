/** One open note: header (title, tags, status, people, actions) and the collaborative editor. */
import type { Editor } from '@tiptap/core'
import { ApiError, notesApi, unwrapNote, type Note } from './api'
import { NoteConnection, type SyncState } from './collab'
import { confirmDialog } from './dialogs'
import { createEditor, createToolbar } from './editor'
import { exportNote, type ExportFormat } from './exporter'
import { bindAvatars } from './presence'
import { openShareDialog } from './share'
import { openVersionsDialog, versionsAvailable } from './versions'
import { colorFor, h, icon, mount, serverColor, toast } from './dom'
import { cachedNote, knownFolders, patchNote, reload } from './listView'
import { OfflineError, user, type User } from './session'

export type Access = 'owner' | 'write' | 'read'

export function accessOf(note: Note, me: User | null): Access {
  const declared = (note.access ?? note.permission)?.toLowerCase()
  if (declared === 'owner') return 'owner'
  if (declared === 'write' || declared === 'edit') return 'write'
  if (declared === 'read' || declared === 'view') return 'read'
  const owner = note.userId ?? note.ownerId ?? note.owner?.id
  if (me && owner === me.id) return 'owner'
  const share = note.shares?.find((s) => s.userId === me?.id)
  if (share) return share.permission
  if (note.canEdit === false) return 'read'
  return 'write'
}

function statusText(state: SyncState): string {
  switch (state.kind) {
    case 'loading':
      return 'Opening…'
    case 'saved':
      return 'Saved'
    case 'syncing':
      return state.pending ? `Syncing ${state.pending} change${state.pending === 1 ? '' : 's'}…` : 'Syncing…'
    case 'offline':
      return state.pending
        ? `Offline, ${state.pending} change${state.pending === 1 ? '' : 's'} pending`
        : 'Offline, all changes kept on this device'
    case 'error':
      return state.message ?? 'Not syncing'
  }
}

export interface NoteView {
  destroy: () => void
}

export async function renderNote(container: HTMLElement, noteId: string, onSignedOut: (m: string) => void): Promise<NoteView> {
  let note: Note | undefined
  try {
    note = unwrapNote(await notesApi.get(noteId))
  } catch (err) {
    if (!(err instanceof OfflineError)) {
      const message = err instanceof ApiError && err.status === 404 ? 'This note does not exist or was deleted.'
        : err instanceof ApiError && err.status === 403 ? 'You do not have access to this note.' : (err as Error).message
      mount(container, h('div', { class: 'empty-state' }, h('h2', {}, 'Cannot open this note'), h('p', { class: 'muted' }, message),
        h('a', { href: '#/', class: 'btn' }, 'Back to notes')))
      return { destroy: () => undefined }
    }
    note = cachedNote(noteId) ?? { id: noteId, title: 'Note', tags: [] }
  }
  const current: Note = note
  const me = user()
  let access = accessOf(current, me)
  const editable = access !== 'read'

  const connection = new NoteConnection(noteId, onSignedOut)
  const localUser = { id: me?.id, name: me?.name || me?.email || 'Me', color: colorFor(me?.id ?? 'me') }
  connection.awareness.setLocalStateField('user', localUser)
  if (me) void serverColor(me.id).then((color) => connection.awareness.setLocalStateField('user', { ...localUser, color }))

  // ---- header ----
  const title = h('input', {
    id: 'note-title', class: 'title-input', value: current.title, maxlength: '255', 'aria-label': 'Note title',
    readOnly: access === 'read', placeholder: 'Untitled',
  })
  const saveTitle = async () => {
    const value = title.value.trim()
    if (!value) { title.value = current.title; return }
    if (value === current.title) return
    try {
      const updated = unwrapNote(await notesApi.update(noteId, { title: value }))
      current.title = updated.title ?? value
      patchNote({ ...current })
      document.title = `${current.title} · Workbook Notes`
    } catch (err) {
      title.value = current.title
      toast(err instanceof ApiError && err.fields.length ? err.fields[0].message : (err as Error).message, 'error')
    }
  }
  title.addEventListener('change', () => void saveTitle())
  title.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault()
      // TipTap's focus command focuses on the next frame; focus now so no keystroke is lost
      editor.commands.focus('start')
      editor.view.focus()
    }
  })

  // The pill changes on every keystroke (saved/syncing), so it is not a live region; the
  // announcer below speaks only when going offline, failing, or coming back.
  const status = h('span', { class: 'sync-status', id: 'sync-status', 'aria-live': 'off' })
  const announcer = h('span', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' })
  let lastKind = ''
  let wasOffline = false
  const avatars = h('div', { class: 'avatars', role: 'group', id: 'here-now' })

  const exportMenu = h('div', { class: 'menu', role: 'menu', hidden: true, id: 'export-menu' })
  const exportBtn = h('button', {
    type: 'button', class: 'btn btn-ghost', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': 'export-menu', id: 'export-button',
    onclick: () => toggleMenu(),
  }, icon('download'), h('span', { class: 'btn-label' }, 'Export'))
  const toggleMenu = (open = exportMenu.hidden) => {
    exportMenu.hidden = !open
    exportBtn.setAttribute('aria-expanded', String(open))
    if (open) exportMenu.querySelector<HTMLElement>('[role=menuitem]')?.focus()
  }
  const formats: [ExportFormat, string][] = [['md', 'Markdown (.md)'], ['pdf', 'PDF document (.pdf)'], ['json', 'JSON with metadata (.json)']]
  for (const [format, label] of formats) {
    exportMenu.append(h('button', {
      type: 'button', role: 'menuitem', class: 'menu-item', dataset: { format },
      onclick: async () => {
        toggleMenu(false)
        try { await exportNote(current, format) } catch (err) { toast(`Export failed: ${(err as Error).message}`, 'error') }
      },
    }, label))
  }
  exportMenu.addEventListener('keydown', (ev) => {
    const items = [...exportMenu.querySelectorAll<HTMLElement>('[role=menuitem]')]
    const i = items.indexOf(document.activeElement as HTMLElement)
    if (ev.key === 'Escape') { toggleMenu(false); exportBtn.focus() }
    if (ev.key === 'ArrowDown') { ev.preventDefault(); items[(i + 1) % items.length].focus() }
    if (ev.key === 'ArrowUp') { ev.preventDefault(); items[(i - 1 + items.length) % items.length].focus() }
  })
  const closeMenuOnOutside = (ev: MouseEvent) => {
    if (!exportMenu.hidden && !exportMenu.contains(ev.target as Node) && !exportBtn.contains(ev.target as Node)) toggleMenu(false)
  }
  document.addEventListener('click', closeMenuOnOutside)

  const historyBtn = h('button', { type: 'button', class: 'btn btn-ghost', hidden: true, id: 'history-button', onclick: () => openVersionsDialog(current, editable) },
    icon('history'), h('span', { class: 'btn-label' }, 'History'))
  void versionsAvailable(noteId).then((ok) => { historyBtn.hidden = !ok })

  const actions = h('div', { class: 'note-actions' },
    access === 'owner' ? h('button', { type: 'button', class: 'btn btn-ghost', id: 'share-button', onclick: () => openShareDialog(current) }, icon('share'), h('span', { class: 'btn-label' }, 'Share')) : null,
    historyBtn,
    h('div', { class: 'menu-wrap' }, exportBtn, exportMenu),
    access === 'owner' ? h('button', {
      type: 'button', class: 'icon-btn icon-btn-danger', 'aria-label': 'Delete note', title: 'Delete note', id: 'delete-button',
      onclick: async () => {
        if (!(await confirmDialog('Delete this note?', `“${current.title}” will be deleted for everyone it is shared with.`, 'Delete note', true))) return
        try {
          await notesApi.remove(noteId)
          toast('Note deleted')
          location.hash = '#/'
          void reload()
        } catch (err) {
          toast((err as Error).message, 'error')
        }
      },
    }, icon('trash')) : null,
  )

  // ---- tags ----
  const tagList = h('ul', { class: 'tag-list', 'aria-label': 'Tags' })
  const tagInput = h('input', { id: 'tag-input', class: 'tag-input', placeholder: 'Add tag', maxlength: '50', 'aria-label': 'Add a tag', hidden: access === 'read' })
  const saveTags = async (tags: string[]) => {
    const before = current.tags
    current.tags = tags
    renderTags()
    try {
      await notesApi.update(noteId, { tags })
      patchNote({ ...current })
    } catch (err) {
      current.tags = before
      renderTags()
      toast(err instanceof ApiError && err.fields.length ? err.fields[0].message : (err as Error).message, 'error')
    }
  }
  const renderTags = () => mount(tagList, (current.tags ?? []).map((tag) => h('li', { class: 'chip' }, '#', tag,
    access !== 'read' ? h('button', { type: 'button', class: 'chip-remove', 'aria-label': `Remove tag ${tag}`, onclick: () => void saveTags(current.tags.filter((t) => t !== tag)) }, '×') : null)))
  tagInput.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ',') {
      ev.preventDefault()
      const tag = tagInput.value.trim().replace(/^#/, '')
      tagInput.value = ''
      if (tag && !current.tags.includes(tag)) void saveTags([...(current.tags ?? []), tag])
    } else if (ev.key === 'Backspace' && !tagInput.value && current.tags.length) {
      void saveTags(current.tags.slice(0, -1))
    }
  })
  current.tags ??= []
  renderTags()

  // ---- folder (owner only) ----
  const folderInput = h('input', {
    id: 'folder-input', class: 'tag-input folder-input', placeholder: 'No folder', maxlength: '255',
    value: current.folder ?? '', list: 'folder-options', 'aria-label': 'Folder',
  })
  const folderOptions = h('datalist', { id: 'folder-options' }, knownFolders().map((f) => h('option', { value: f })))
  folderInput.addEventListener('change', async () => {
    const folder = folderInput.value.trim() || null
    if (folder === (current.folder ?? null)) return
    try {
      await notesApi.update(noteId, { folder })
      current.folder = folder
      patchNote({ ...current })
    } catch (err) {
      folderInput.value = current.folder ?? ''
      toast((err as Error).message, 'error')
    }
  })
  folderInput.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') { ev.preventDefault(); folderInput.blur() }
  })
  const folderField = access === 'owner'
    ? h('div', { class: 'tags folder-field' }, icon('folder'), folderInput, folderOptions)
    : current.folder ? h('div', { class: 'tags folder-field' }, icon('folder'), h('span', { class: 'chip' }, current.folder)) : null

  // ---- editor ----
  const editorMount = h('div', { class: 'editor-mount', id: 'note-editor' })
  const banner = h('div', { class: 'banner', role: 'note', hidden: editable },
    icon('lock'), 'You can view this note. Only people with edit access can change it.')
  mount(
    container,
    h('article', { class: 'note', 'aria-labelledby': 'note-title' },
      h('header', { class: 'note-header' },
        h('div', { class: 'note-header-row' },
          h('a', { href: '#/', class: 'icon-btn back-btn', 'aria-label': 'Back to notes' }, icon('back')),
          title,
          actions),
        h('div', { class: 'note-header-row note-subrow' },
          h('div', { class: 'meta-fields' }, folderField, h('div', { class: 'tags' }, icon('tag'), tagList, tagInput)),
          h('div', { class: 'presence' }, status, announcer, avatars)),
      ),
      banner,
      h('div', { class: 'editor-shell' }, h('div', { class: 'toolbar-slot' }), editorMount),
    ),
  )
  document.title = `${current.title} · Workbook Notes`

  await connection.start()
  const editor: Editor = createEditor(editorMount, connection, editable)
  container.querySelector('.toolbar-slot')?.replaceWith(createToolbar(editor))
  const unbindAvatars = bindAvatars(avatars, connection.awareness)
  const readOnlyText = 'You can view this note. Only people with edit access can change it.'
  const applyAccess = (next: Access) => {
    access = next
    const canEdit = next !== 'read' && !connection.current.locked
    editor.setEditable(canEdit)
    title.readOnly = !canEdit
    tagInput.hidden = !canEdit
    banner.hidden = canEdit
    if (!canEdit && !connection.current.locked) banner.replaceChildren(icon('lock'), readOnlyText)
    renderTags()
  }
  // A share can be changed while the note is open (the server downgrades the live connection
  // at once): pick the new access up when the window regains focus and every 20 s.
  const recheck = async () => {
    try {
      const fresh = unwrapNote(await notesApi.get(noteId))
      const next = accessOf(fresh, me)
      if (next !== access) {
        applyAccess(next)
        toast(next === 'read' ? 'You can now only view this note.' : 'You can edit this note now.')
      }
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 403)) {
        editor.setEditable(false)
        banner.hidden = false
        banner.replaceChildren(icon('lock'), 'You no longer have access to this note.')
      }
    }
  }
  const recheckTimer = setInterval(() => void recheck(), 20_000)
  const onFocus = () => void recheck()
  window.addEventListener('focus', onFocus)
  const unsubscribe = connection.subscribe((state) => {
    status.textContent = statusText(state)
    status.dataset.state = state.kind
    if (state.kind !== lastKind) {
      if (state.kind === 'offline' || state.kind === 'error') {
        announcer.textContent = statusText(state)
        wasOffline = state.kind === 'offline'
      } else if (state.kind === 'saved' && wasOffline) {
        announcer.textContent = 'Back online, all changes synced'
        wasOffline = false
      }
      lastKind = state.kind
    }
    status.dataset.pending = String(state.pending)
    if (state.locked) {
      editor.setEditable(false)
      banner.hidden = false
      banner.replaceChildren(icon('lock'), state.message ?? 'This note is read-only now.')
    }
  })

  return {
    destroy: () => {
      unsubscribe()
      unbindAvatars()
      clearInterval(recheckTimer)
      window.removeEventListener('focus', onFocus)
      document.removeEventListener('click', closeMenuOnOutside)
      void saveTitle()
      editor.destroy()
      connection.destroy()
    },
  }
}
