/**
 * The rich-text editor: TipTap 3 bound to the note's Y.Doc (XmlFragment `default`) with
 * collaborator carets, and its formatting toolbar (a WAI-ARIA toolbar with roving focus).
 */
import { Editor } from '@tiptap/core'
import StarterKit from '@tiptap/starter-kit'
import Collaboration from '@tiptap/extension-collaboration'
import Placeholder from '@tiptap/extension-placeholder'
import type { NoteConnection } from './collab'
import { collaboratorCarets } from './presence'
import { h, icon } from './dom'
import { askForLink } from './dialogs'

export const FRAGMENT = 'default'

export function createEditor(mountEl: HTMLElement, connection: NoteConnection, editable: boolean): Editor {
  return new Editor({
    element: mountEl,
    editable,
    extensions: [
      StarterKit.configure({
        undoRedo: false,
        link: { openOnClick: false, autolink: true, defaultProtocol: 'https' },
        heading: { levels: [1, 2, 3] },
      }),
      Collaboration.configure({ document: connection.doc, field: FRAGMENT }),
      collaboratorCarets(connection.awareness),
      Placeholder.configure({ placeholder: 'Start writing… use the toolbar or Markdown shortcuts like # and -' }),
    ],
    editorProps: {
      attributes: {
        class: 'prose',
        role: 'textbox',
        'aria-multiline': 'true',
        'aria-label': 'Note content',
        spellcheck: 'true',
      },
    },
  })
}

interface Tool {
  id: string
  label: string
  icon?: string
  text?: string
  shortcut?: string
  run: (e: Editor) => void
  active?: (e: Editor) => boolean
}

const TOOLS: (Tool | 'sep')[] = [
  { id: 'undo', label: 'Undo', icon: 'undo', shortcut: 'Ctrl+Z', run: (e) => e.chain().focus().undo().run() },
  { id: 'redo', label: 'Redo', icon: 'redo', shortcut: 'Ctrl+Shift+Z', run: (e) => e.chain().focus().redo().run() },
  'sep',
  { id: 'h1', label: 'Heading 1', text: 'H1', run: (e) => e.chain().focus().toggleHeading({ level: 1 }).run(), active: (e) => e.isActive('heading', { level: 1 }) },
  { id: 'h2', label: 'Heading 2', text: 'H2', run: (e) => e.chain().focus().toggleHeading({ level: 2 }).run(), active: (e) => e.isActive('heading', { level: 2 }) },
  { id: 'h3', label: 'Heading 3', text: 'H3', run: (e) => e.chain().focus().toggleHeading({ level: 3 }).run(), active: (e) => e.isActive('heading', { level: 3 }) },
  'sep',
  { id: 'bold', label: 'Bold', icon: 'bold', shortcut: 'Ctrl+B', run: (e) => e.chain().focus().toggleBold().run(), active: (e) => e.isActive('bold') },
  { id: 'italic', label: 'Italic', icon: 'italic', shortcut: 'Ctrl+I', run: (e) => e.chain().focus().toggleItalic().run(), active: (e) => e.isActive('italic') },
  { id: 'strike', label: 'Strikethrough', icon: 'strike', run: (e) => e.chain().focus().toggleStrike().run(), active: (e) => e.isActive('strike') },
  { id: 'code', label: 'Inline code', icon: 'code', shortcut: 'Ctrl+E', run: (e) => e.chain().focus().toggleCode().run(), active: (e) => e.isActive('code') },
  { id: 'link', label: 'Link', icon: 'link', shortcut: 'Ctrl+K', run: (e) => void editLink(e), active: (e) => e.isActive('link') },
  'sep',
  { id: 'ul', label: 'Bulleted list', icon: 'ul', run: (e) => e.chain().focus().toggleBulletList().run(), active: (e) => e.isActive('bulletList') },
  { id: 'ol', label: 'Numbered list', icon: 'ol', run: (e) => e.chain().focus().toggleOrderedList().run(), active: (e) => e.isActive('orderedList') },
  { id: 'quote', label: 'Quote', icon: 'quote', run: (e) => e.chain().focus().toggleBlockquote().run(), active: (e) => e.isActive('blockquote') },
  { id: 'codeblock', label: 'Code block', icon: 'codeblock', run: (e) => e.chain().focus().toggleCodeBlock().run(), active: (e) => e.isActive('codeBlock') },
]

async function editLink(editor: Editor): Promise<void> {
  // A keyboard selection made just before Ctrl+K may not have reached the editor state yet
  // (ProseMirror reads it on the next 'selectionchange'): read the DOM selection now.
  ;(editor.view as unknown as { domObserver?: { flush?: () => void } }).domObserver?.flush?.()
  const previous = (editor.getAttributes('link').href as string | undefined) ?? ''
  // The dialog takes focus and the browser moves the DOM selection; remember the range now.
  const { from, to } = editor.state.selection
  const href = await askForLink(previous)
  const chain = () => editor.chain().focus().setTextSelection({ from, to }).extendMarkRange('link')
  if (href === null) editor.chain().focus().setTextSelection({ from, to }).run()
  else if (href === '') chain().unsetLink().run()
  else if (from === to && !previous) {
    // nothing selected: insert the address itself as the link text
    editor.chain().focus().setTextSelection(from).insertContent({ type: 'text', text: href, marks: [{ type: 'link', attrs: { href } }] }).run()
  } else chain().setLink({ href }).run()
}

/** Build the toolbar for `editor`; buttons reflect the active marks and nodes. */
export function createToolbar(editor: Editor): HTMLElement {
  const buttons: { tool: Tool; el: HTMLButtonElement }[] = []
  const bar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Formatting', 'aria-controls': 'note-editor' })
  for (const tool of TOOLS) {
    if (tool === 'sep') {
      bar.append(h('span', { class: 'toolbar-sep', role: 'separator', 'aria-orientation': 'vertical' }))
      continue
    }
    const title = tool.shortcut ? `${tool.label} (${tool.shortcut})` : tool.label
    const el = h(
      'button',
      {
        type: 'button',
        class: 'tool',
        title,
        'aria-label': tool.label,
        tabindex: buttons.length === 0 ? '0' : '-1',
        dataset: { tool: tool.id },
        onmousedown: (ev: MouseEvent) => ev.preventDefault(),
        onclick: () => tool.run(editor),
      },
      tool.icon ? icon(tool.icon) : h('span', { class: 'tool-text' }, tool.text),
    )
    if (tool.active) el.setAttribute('aria-pressed', 'false')
    buttons.push({ tool, el })
    bar.append(el)
  }
  bar.addEventListener('keydown', (ev) => {
    const index = buttons.findIndex((b) => b.el === document.activeElement)
    if (index < 0) return
    let next = index
    if (ev.key === 'ArrowRight') next = (index + 1) % buttons.length
    else if (ev.key === 'ArrowLeft') next = (index - 1 + buttons.length) % buttons.length
    else if (ev.key === 'Home') next = 0
    else if (ev.key === 'End') next = buttons.length - 1
    else return
    ev.preventDefault()
    buttons[index].el.tabIndex = -1
    buttons[next].el.tabIndex = 0
    buttons[next].el.focus()
  })
  const refresh = () => {
    const editable = editor.isEditable
    for (const { tool, el } of buttons) {
      el.disabled = !editable
      if (tool.active) el.setAttribute('aria-pressed', String(tool.active(editor)))
    }
  }
  editor.on('transaction', refresh)
  editor.on('selectionUpdate', refresh)
  refresh()
  editor.setOptions({
    editorProps: {
      ...editor.options.editorProps,
      handleKeyDown: (_view, event) => {
        if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k') {
          event.preventDefault()
          void editLink(editor)
          return true
        }
        return false
      },
    },
  })
  return bar
}
