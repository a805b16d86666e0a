/** The sidebar: search-as-you-type, folders, tag filter, the notes list and "New note". */
import { ApiError, notesApi, unwrapNote, type Note } from './api'
import { debounce, h, icon, mount, relativeTime, toast } from './dom'
import { OfflineError } from './session'

const CACHE_KEY = 'collab.notesCache'
const PAGE = 50

interface ListState {
  search: string
  tags: Set<string>
  folder: string | null
  notes: Note[]
  total: number
  hasMore: boolean
  allTags: Set<string>
  folders: Set<string>
  loading: boolean
  offline: boolean
}

const state: ListState = {
  search: '', tags: new Set(), folder: null, notes: [], total: 0, hasMore: false,
  allTags: new Set(), folders: new Set(), loading: false, offline: false,
}

let listEl: HTMLElement | null = null
let filtersEl: HTMLElement | null = null
let summaryEl: HTMLElement | null = null
let activeId: string | null = null
let requestSeq = 0

/** Keep only safe highlight markup (<mark>, <b>, <em>) from a server snippet. */
function snippetNode(snippet: string): HTMLElement {
  const span = h('span', { class: 'note-snippet' })
  const parts = snippet.split(/(<\/?(?:mark|b|em|strong)>)/i)
  let highlight = false
  for (const part of parts) {
    if (/^<(mark|b|em|strong)>$/i.test(part)) highlight = true
    else if (/^<\/(mark|b|em|strong)>$/i.test(part)) highlight = false
    else if (part) span.append(highlight ? h('mark', {}, part) : document.createTextNode(part))
  }
  return span
}

/** Folder names seen so far (for the folder field's suggestions). */
export function knownFolders(): string[] {
  return [...state.folders].sort()
}

export function cachedNote(id: string): Note | undefined {
  const cached: Note[] = JSON.parse(localStorage.getItem(CACHE_KEY) ?? '[]')
  return state.notes.find((n) => n.id === id) ?? cached.find((n) => n.id === id)
}

export function setActive(id: string | null): void {
  activeId = id
  listEl?.querySelectorAll('.note-item').forEach((el) => {
    const on = (el as HTMLElement).dataset.id === id
    el.classList.toggle('active', on)
    if (on) el.setAttribute('aria-current', 'page')
    else el.removeAttribute('aria-current')
  })
}

/**
 * A local change (create, rename, tags) is newer than any list request already in flight:
 * drop their answers, or an empty list asked for before "New note" would replace the new note.
 */
function supersedeInflight(): void {
  requestSeq += 1
  state.loading = false
}

/** Update one note in the list after an edit elsewhere (rename, tags). */
export function patchNote(note: Note): void {
  supersedeInflight()
  const index = state.notes.findIndex((n) => n.id === note.id)
  if (index >= 0) state.notes[index] = { ...state.notes[index], ...note }
  for (const tag of note.tags ?? []) state.allTags.add(tag)
  if (note.folder) state.folders.add(note.folder)
  render()
}

export async function reload(append = false): Promise<void> {
  const seq = ++requestSeq
  state.loading = true
  renderSummary()
  try {
    const body = await notesApi.list({
      search: state.search.trim() || undefined,
      tags: state.tags.size ? [...state.tags].join(',') : undefined,
      limit: PAGE,
      offset: append ? state.notes.length : 0,
    })
    if (seq !== requestSeq) return
    state.notes = append ? [...state.notes, ...body.notes] : body.notes
    state.total = body.total
    state.hasMore = body.hasMore
    state.offline = false
    for (const note of body.notes) {
      for (const tag of note.tags ?? []) state.allTags.add(tag)
      if (note.folder) state.folders.add(note.folder)
    }
    if (!state.search && !state.tags.size) localStorage.setItem(CACHE_KEY, JSON.stringify(state.notes.map(({ snippet: _s, ...n }) => n)))
  } catch (err) {
    if (seq !== requestSeq) return
    if (err instanceof OfflineError) {
      state.offline = true
      const cached: Note[] = JSON.parse(localStorage.getItem(CACHE_KEY) ?? '[]')
      const q = state.search.trim().toLowerCase()
      state.notes = cached.filter((n) => (!q || n.title.toLowerCase().includes(q)) && [...state.tags].every((t) => n.tags?.includes(t)))
      state.total = state.notes.length
      state.hasMore = false
    } else {
      toast((err as Error).message, 'error')
    }
  } finally {
    if (seq === requestSeq) {
      state.loading = false
      render()
    }
  }
}

function renderSummary(): void {
  if (!summaryEl) return
  const shown = state.folder ? state.notes.filter((n) => n.folder === state.folder).length : state.notes.length
  summaryEl.textContent = state.loading
    ? 'Searching…'
    : state.offline
      ? `Offline · ${shown} saved note${shown === 1 ? '' : 's'}`
      : state.search || state.tags.size
        ? `${state.total} result${state.total === 1 ? '' : 's'}`
        : `${state.total} note${state.total === 1 ? '' : 's'}`
}

function render(): void {
  renderSummary()
  if (filtersEl) {
    const folderButtons = state.folders.size
      ? h(
          'nav',
          { class: 'folders', 'aria-label': 'Folders' },
          [null, ...[...state.folders].sort()].map((folder) =>
            h(
              'button',
              {
                type: 'button', class: 'folder-btn', 'aria-pressed': String(state.folder === folder),
                onclick: () => { state.folder = folder; render() },
              },
              icon(folder ? 'folder' : 'note'),
              folder ?? 'All notes',
            ),
          ),
        )
      : null
    const tagButtons = state.allTags.size
      ? h(
          'div',
          { class: 'tag-filter', role: 'group', 'aria-label': 'Filter by tag' },
          [...state.allTags].sort().map((tag) =>
            h(
              'button',
              {
                type: 'button', class: 'chip chip-toggle', 'aria-pressed': String(state.tags.has(tag)),
                onclick: () => {
                  if (state.tags.has(tag)) state.tags.delete(tag)
                  else state.tags.add(tag)
                  void reload()
                },
              },
              '#', tag,
            ),
          ),
        )
      : null
    mount(filtersEl, folderButtons, tagButtons)
  }
  if (!listEl) return
  const notes = state.folder ? state.notes.filter((n) => n.folder === state.folder) : state.notes
  if (!notes.length && !state.loading) {
    mount(
      listEl,
      h('li', { class: 'empty-list' },
        state.search || state.tags.size ? 'No notes match your search.' : 'No notes yet. Create your first one.'),
    )
    return
  }
  mount(
    listEl,
    notes.map((note) =>
      h(
        'li',
        {},
        h(
          'a',
          {
            href: `#/n/${note.id}`,
            class: `note-item${note.id === activeId ? ' active' : ''}`,
            'aria-current': note.id === activeId ? 'page' : undefined,
            dataset: { id: note.id },
          },
          h('span', { class: 'note-title' }, note.title || 'Untitled'),
          note.snippet ? snippetNode(note.snippet) : null,
          h(
            'span',
            { class: 'note-meta' },
            relativeTime(note.updatedAt),
            note.access === 'read' ? ' · shared with you, view only'
              : note.access === 'write' ? ' · shared with you'
                : note.isPrivate === false ? ' · shared' : '',
            (note.tags ?? []).slice(0, 3).map((t) => h('span', { class: 'chip chip-xs' }, t)),
          ),
        ),
      ),
    ),
    state.hasMore
      ? h('li', {}, h('button', { type: 'button', class: 'btn btn-ghost btn-block', onclick: () => void reload(true) }, 'Load more'))
      : null,
  )
}

export async function createNote(): Promise<Note | null> {
  try {
    const body = await notesApi.create({
      title: 'Untitled note',
      content: '',
      tags: state.tags.size ? [...state.tags] : [],
      isPrivate: true,
      ...(state.folder ? { folder: state.folder } : {}),
    })
    const note = unwrapNote(body)
    supersedeInflight()
    state.notes = [note, ...state.notes]
    state.total += 1
    render()
    return note
  } catch (err) {
    toast(err instanceof ApiError ? err.message : 'You need to be online to create a note.', 'error')
    return null
  }
}

let refreshTimer: ReturnType<typeof setInterval> | undefined

export function renderSidebar(container: HTMLElement, onCreate: () => void): void {
  // keep titles, order and snippets current while others edit: on focus and every 30 s
  clearInterval(refreshTimer)
  refreshTimer = setInterval(() => {
    if (document.visibilityState === 'visible' && navigator.onLine && listEl?.isConnected) void reload()
  }, 30_000)
  const search = h('input', {
    id: 'note-search', type: 'search', class: 'input search-input', placeholder: 'Search notes',
    autocomplete: 'off', value: state.search, 'aria-controls': 'notes-list',
  })
  const runSearch = debounce(() => void reload(), 200)
  search.addEventListener('input', () => {
    state.search = search.value
    runSearch()
  })
  listEl = h('ul', { id: 'notes-list', class: 'notes-list', 'aria-label': 'Notes' })
  filtersEl = h('div', { class: 'filters' })
  summaryEl = h('p', { class: 'list-summary', role: 'status', 'aria-live': 'polite' })
  mount(
    container,
    h('div', { class: 'sidebar-top' },
      h('button', { type: 'button', class: 'btn btn-primary btn-block', id: 'new-note', onclick: onCreate }, icon('plus'), 'New note'),
      h('div', { class: 'search', role: 'search' },
        h('label', { for: 'note-search', class: 'visually-hidden' }, 'Search notes'),
        icon('search'),
        search,
      ),
      filtersEl,
      summaryEl,
    ),
    listEl,
  )
  render()
}
