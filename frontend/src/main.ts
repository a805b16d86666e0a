/** Boot, session restore and the hash router: #/login, #/register, #/ (list), #/n/<id>. */
import './styles.css'
import { renderAuth } from './authView'
import { forgetLocalDocuments } from './collab'
import { h, icon, initials, colorFor, mount, serverColor, textOn, toast } from './dom'
import { createNote, reload, renderSidebar, setActive } from './listView'
import { renderNote, type NoteView } from './noteView'
import { hasStoredSession, logout, OfflineError, refresh, SignedOutError, token, user } from './session'

const root = document.getElementById('app') as HTMLElement
let shell: { sidebar: HTMLElement; main: HTMLElement } | null = null
let openNote: { id: string; view: Promise<NoteView> } | null = null

function signedOut(message: string): void {
  closeNote()
  shell = null
  toast(message, 'error')
  location.hash = '#/login'
}

function closeNote(): void {
  if (openNote) {
    const { view } = openNote
    openNote = null
    void view.then((v) => v.destroy())
  }
}

function buildShell(): { sidebar: HTMLElement; main: HTMLElement } {
  const me = user()
  const sidebar = h('div', { class: 'sidebar-body' })
  const main = h('main', { class: 'main', id: 'main' })
  const name = me?.name || me?.email || 'Me'
  const selfAvatar = h('span', { class: 'avatar avatar-sm', style: { backgroundColor: colorFor(me?.id ?? '') }, title: name, 'aria-hidden': 'true' }, initials(name))
  if (me) {
    void serverColor(me.id).then((color) => {
      selfAvatar.style.backgroundColor = color
      selfAvatar.style.color = textOn(color)
    })
  }
  mount(
    root,
    h('a', { href: '#main', class: 'skip-link' }, 'Skip to the note'),
    h(
      'div',
      { class: 'shell' },
      h(
        'aside',
        { class: 'sidebar', 'aria-label': 'Your notes' },
        h(
          'div',
          { class: 'sidebar-header' },
          h('div', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Workbook Notes'),
          h(
            'div',
            { class: 'account' },
            selfAvatar,
            h('span', { class: 'visually-hidden' }, `Signed in as ${name}`),
            h(
              'button',
              {
                type: 'button', class: 'icon-btn', 'aria-label': 'Sign out', title: 'Sign out',
                onclick: async () => {
                  closeNote()
                  await logout()
                  await forgetLocalDocuments()
                  shell = null
                  location.hash = '#/login'
                },
              },
              icon('logout'),
            ),
          ),
        ),
        sidebar,
      ),
      main,
    ),
  )
  renderSidebar(sidebar, async () => {
    const note = await createNote()
    if (note) location.hash = `#/n/${note.id}`
  })
  void reload()
  return { sidebar, main }
}

function emptyMain(main: HTMLElement): void {
  mount(
    main,
    h(
      'div',
      { class: 'empty-state' },
      h('div', { class: 'empty-illustration', 'aria-hidden': 'true' }, icon('note')),
      h('h2', {}, 'Pick a note or start a new one'),
      h('p', { class: 'muted' }, 'Notes sync live with everyone you share them with, and keep working offline.'),
    ),
  )
}

async function route(): Promise<void> {
  const hash = location.hash || '#/'
  if (hash === '#/login' || hash === '#/register') {
    closeNote()
    shell = null
    renderAuth(root, hash === '#/login' ? 'login' : 'register', () => { location.hash = '#/' })
    return
  }
  if (!user()) {
    location.hash = '#/login'
    return
  }
  shell ??= buildShell()
  const match = /^#\/n\/([0-9a-fA-F-]{8,})$/.exec(hash)
  document.body.classList.toggle('has-note', Boolean(match))
  if (!match) {
    closeNote()
    setActive(null)
    document.title = 'Workbook Notes'
    emptyMain(shell.main)
    return
  }
  const id = match[1]
  if (openNote?.id === id) return
  closeNote()
  setActive(id)
  mount(shell.main, h('div', { class: 'loading', role: 'status' }, 'Opening note…'))
  const view = renderNote(shell.main, id, signedOut)
  openNote = { id, view }
}

async function boot(): Promise<void> {
  if (hasStoredSession() && !token()) {
    try {
      await refresh()
    } catch (err) {
      if (err instanceof SignedOutError) {
        location.hash = '#/login'
      } else if (err instanceof OfflineError) {
        toast('You are offline. Your notes open from this device and sync when you reconnect.')
      }
    }
  }
  window.addEventListener('hashchange', () => void route())
  window.addEventListener('online', () => {
    if (user() && !token()) void refresh().catch(() => undefined)
    if (shell) void reload()
  })
  await route()
}

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js').catch(() => undefined)
  })
}

void boot()
