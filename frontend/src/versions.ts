/**
 * Version history: named and automatic versions, a read-only preview, and restore (the server
 * applies the old content as a new edit, so nothing is lost).
 */
import * as Y from 'yjs'
import { Editor } from '@tiptap/core'
import StarterKit from '@tiptap/starter-kit'
import Collaboration from '@tiptap/extension-collaboration'
import { ApiError, notesApi, type Note, type Version } from './api'
import { h, icon, mount, relativeTime, toast } from './dom'
import { openModal } from './dialogs'
import { FRAGMENT } from './editor'

/** True when the server offers version history for this note (404/405 hides the button). */
export async function versionsAvailable(noteId: string): Promise<boolean> {
  try {
    await notesApi.versions(noteId)
    return true
  } catch (err) {
    return !(err instanceof ApiError && (err.status === 404 || err.status === 405 || err.status === 501))
  }
}

function base64ToBytes(value: string): Uint8Array {
  const bin = atob(value)
  const bytes = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i)
  return bytes
}

/** Render a version body, whatever form the server sends it in. */
function renderPreview(target: HTMLElement, body: Record<string, unknown>): () => void {
  const version = (body.version ?? body) as Record<string, unknown>
  const state = version.state ?? version.update ?? version.snapshot
  const json = version.json ?? version.doc ?? version.prosemirror
  const text = version.markdown ?? version.content ?? version.text
  const mountEl = h('div', { class: 'preview-doc' })
  mount(target, mountEl)
  if (typeof state === 'string' || (json && typeof json === 'object')) {
    const doc = new Y.Doc()
    const extensions = [StarterKit.configure({ undoRedo: false })]
    if (typeof state === 'string') {
      Y.applyUpdate(doc, base64ToBytes(state))
      extensions.push(Collaboration.configure({ document: doc, field: FRAGMENT }) as never)
    }
    const editor = new Editor({
      element: mountEl,
      editable: false,
      extensions,
      content: typeof state === 'string' ? undefined : (json as object),
      editorProps: { attributes: { class: 'prose', 'aria-label': 'Version preview', 'aria-readonly': 'true' } },
    })
    return () => {
      editor.destroy()
      doc.destroy()
    }
  }
  mountEl.append(h('pre', { class: 'preview-text' }, typeof text === 'string' && text ? text : 'This version is empty.'))
  return () => undefined
}

export function openVersionsDialog(note: Note, canRestore: boolean): void {
  let cleanup = () => {}
  const modal = openModal('Version history', { wide: true, onClose: () => cleanup() })
  const list = h('ul', { class: 'version-list', role: 'listbox', 'aria-label': 'Versions' })
  const preview = h('div', { class: 'version-preview', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Select a version to preview it.'))
  const restoreBtn = h('button', { type: 'button', class: 'btn btn-primary', disabled: true }, icon('history'), 'Restore this version')
  const nameInput = h('input', { id: 'version-name', class: 'input', placeholder: 'e.g. Before the workshop', maxlength: '255' })
  let selected: Version | null = null

  const select = async (version: Version, el: HTMLElement) => {
    selected = version
    for (const item of list.querySelectorAll('[role=option]')) item.setAttribute('aria-selected', String(item === el))
    restoreBtn.disabled = !canRestore
    cleanup()
    mount(preview, h('p', { class: 'muted' }, 'Loading…'))
    try {
      cleanup = renderPreview(preview, await notesApi.version(note.id, version.id))
    } catch (err) {
      mount(preview, h('p', { class: 'field-error' }, (err as Error).message))
    }
  }

  const load = async () => {
    try {
      const { versions } = await notesApi.versions(note.id)
      if (!versions.length) {
        mount(list, h('li', { class: 'muted empty-row' }, 'No versions yet. Versions are saved automatically while you write, or name one above.'))
        return
      }
      mount(
        list,
        versions.map((version) => {
          const label = version.name || (version.auto ? 'Automatic version' : 'Version')
          const item: HTMLLIElement = h(
            'li',
            {
              role: 'option', tabindex: '0', class: 'version-item', 'aria-selected': 'false',
              onclick: () => void select(version, item),
              onkeydown: (ev: KeyboardEvent) => {
                if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); void select(version, item) }
                if (ev.key === 'ArrowDown') (item.nextElementSibling as HTMLElement | null)?.focus()
                if (ev.key === 'ArrowUp') (item.previousElementSibling as HTMLElement | null)?.focus()
              },
            },
            h('span', { class: 'version-name' }, label),
            h('span', { class: 'version-meta' }, version.auto ? h('span', { class: 'badge' }, 'auto') : h('span', { class: 'badge badge-named' }, 'named'), ' ', relativeTime(version.createdAt)),
          )
          return item
        }),
      )
    } catch (err) {
      mount(list, h('li', { class: 'field-error' }, (err as Error).message))
    }
  }

  const saveForm = h(
    'form',
    {
      class: 'version-form',
      onsubmit: async (ev: Event) => {
        ev.preventDefault()
        const name = nameInput.value.trim()
        if (!name) { nameInput.focus(); return }
        try {
          await notesApi.createVersion(note.id, name)
          nameInput.value = ''
          toast(`Saved version “${name}”`)
          await load()
        } catch (err) {
          toast((err as Error).message, 'error')
        }
      },
    },
    h('label', { for: 'version-name', class: 'label' }, 'Name the current version'),
    h('div', { class: 'share-form-row' }, nameInput, h('button', { type: 'submit', class: 'btn', disabled: !canRestore }, 'Save version')),
  )

  restoreBtn.addEventListener('click', async () => {
    if (!selected) return
    try {
      await notesApi.restore(note.id, selected.id)
      toast('Version restored as a new edit. The previous text is still in the history.')
      modal.close()
    } catch (err) {
      toast((err as Error).message, 'error')
    }
  })

  modal.body.append(saveForm, h('div', { class: 'version-layout' }, h('div', { class: 'version-col' }, list), preview))
  modal.footer.append(h('button', { type: 'button', class: 'btn', onclick: () => modal.close() }, 'Close'), restoreBtn)
  void load()
}
