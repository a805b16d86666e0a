/**
 * The rich-text editor: TipTap 3 bound to the note's Y.Doc (XmlFragment `default`) with named
 * collaborator carets, and its formatting toolbar (a WAI-ARIA toolbar with roving focus that
 * scrolls sideways on a phone, with a fade at the edge that has more buttons).
 */
import { useCallback, useEffect, useRef, useState, type KeyboardEvent } from 'react'
import { EditorContent, useEditor, useEditorState, type Editor } from '@tiptap/react'
import StarterKit from '@tiptap/starter-kit'
import Collaboration from '@tiptap/extension-collaboration'
import CollaborationCaret from '@tiptap/extension-collaboration-caret'
import Placeholder from '@tiptap/extension-placeholder'
import type { NoteConnection } from '../collab/connection'
import { Icon, type IconName } from '../ui/Icon'
import { LinkDialog } from './dialogs'
import { caretRenderer, selectionRenderer, type AwarenessUser } from './presence'

export const FRAGMENT = 'default'

interface Tool {
  id: string
  label: string
  icon?: IconName
  shortcut?: string
  run: (e: Editor) => void
  active?: (e: Editor) => boolean
}

type LinkAsk = (previous: string) => Promise<string | null>

function tools(askLink: LinkAsk): Tool[][] {
  return [
    [
      { id: 'undo', label: 'Undo', icon: 'undo', shortcut: 'Ctrl+Z', run: (e) => e.chain().focus().undo().run() },
      { id: 'redo', label: 'Redo', icon: 'redo', shortcut: 'Ctrl+Shift+Z', run: (e) => e.chain().focus().redo().run() },
    ],
    ([1, 2, 3] as const).map((level) => ({
      id: `h${level}`,
      label: `Heading ${level}`,
      run: (e: Editor) => e.chain().focus().toggleHeading({ level }).run(),
      active: (e: Editor) => e.isActive('heading', { level }),
    })),
    [
      { id: 'bold', label: 'Bold', icon: 'bold', shortcut: 'Ctrl+B', run: (e) => e.chain().focus().toggleBold().run(), active: (e) => e.isActive('bold') },
      { id: 'italic', label: 'Italic', icon: 'italic', shortcut: 'Ctrl+I', run: (e) => e.chain().focus().toggleItalic().run(), active: (e) => e.isActive('italic') },
      { id: 'strike', label: 'Strikethrough', icon: 'strike', run: (e) => e.chain().focus().toggleStrike().run(), active: (e) => e.isActive('strike') },
      { id: 'code', label: 'Inline code', icon: 'code', shortcut: 'Ctrl+E', run: (e) => e.chain().focus().toggleCode().run(), active: (e) => e.isActive('code') },
      { id: 'link', label: 'Link', icon: 'link', shortcut: 'Ctrl+K', run: (e) => void editLink(e, askLink), active: (e) => e.isActive('link') },
    ],
    [
      { id: 'ul', label: 'Bulleted list', icon: 'ul', run: (e) => e.chain().focus().toggleBulletList().run(), active: (e) => e.isActive('bulletList') },
      { id: 'ol', label: 'Numbered list', icon: 'ol', run: (e) => e.chain().focus().toggleOrderedList().run(), active: (e) => e.isActive('orderedList') },
      { id: 'quote', label: 'Quote', icon: 'quote', run: (e) => e.chain().focus().toggleBlockquote().run(), active: (e) => e.isActive('blockquote') },
      { id: 'codeblock', label: 'Code block', icon: 'codeblock', run: (e) => e.chain().focus().toggleCodeBlock().run(), active: (e) => e.isActive('codeBlock') },
    ],
  ]
}

async function editLink(editor: Editor, ask: LinkAsk): Promise<void> {
  // A keyboard selection made just before Ctrl+K may not have reached the editor state yet
  // (ProseMirror reads it on the next 'selectionchange'): read the DOM selection now.
  ;(editor.view as unknown as { domObserver?: { flush?: () => void } }).domObserver?.flush?.()
  const previous = (editor.getAttributes('link').href as string | undefined) ?? ''
  // The dialog takes focus and the browser moves the DOM selection; remember the range now.
  const { from, to } = editor.state.selection
  const href = await ask(previous)
  const chain = () => editor.chain().focus().setTextSelection({ from, to }).extendMarkRange('link')
  if (href === null) editor.chain().focus().setTextSelection({ from, to }).run()
  else if (href === '') chain().unsetLink().run()
  else if (from === to && !previous) {
    // nothing selected: insert the address itself as the link text
    editor.chain().focus().setTextSelection(from).insertContent({ type: 'text', text: href, marks: [{ type: 'link', attrs: { href } }] }).run()
  } else chain().setLink({ href }).run()
}

/** Which edge of a scrollable row has more content beyond it (for the fade). */
function useScrollEdges() {
  const ref = useRef<HTMLDivElement>(null)
  const [edges, setEdges] = useState({ start: false, end: false })
  const update = useCallback(() => {
    const el = ref.current
    if (!el) return
    const start = el.scrollLeft > 1
    const end = el.scrollLeft + el.clientWidth < el.scrollWidth - 1
    setEdges((prev) => (prev.start === start && prev.end === end ? prev : { start, end }))
  }, [])
  useEffect(() => {
    const el = ref.current
    if (!el) return
    update()
    const observer = new ResizeObserver(update)
    observer.observe(el)
    return () => observer.disconnect()
  }, [update])
  return { ref, edges, update }
}

function Toolbar({ editor, groups }: { editor: Editor; groups: Tool[][] }) {
  const flat = groups.flat()
  const [focusIndex, setFocusIndex] = useState(0)
  const buttons = useRef<(HTMLButtonElement | null)[]>([])
  const state = useEditorState({
    editor,
    selector: ({ editor: e }) => ({
      editable: e.isEditable,
      active: flat.map((t) => (t.active ? t.active(e) : null)),
    }),
    equalityFn: (a, b) => b !== null && a.editable === b.editable && a.active.every((v, i) => v === b.active[i]),
  })
  const scroll = useScrollEdges()
  const onKeyDown = (ev: KeyboardEvent<HTMLDivElement>) => {
    const index = buttons.current.findIndex((b) => b === document.activeElement)
    if (index < 0) return
    let next = index
    if (ev.key === 'ArrowRight') next = (index + 1) % flat.length
    else if (ev.key === 'ArrowLeft') next = (index - 1 + flat.length) % flat.length
    else if (ev.key === 'Home') next = 0
    else if (ev.key === 'End') next = flat.length - 1
    else return
    ev.preventDefault()
    setFocusIndex(next)
    buttons.current[next]?.focus()
  }
  let i = -1
  return (
    <div className={`toolbar-wrap${scroll.edges.start ? ' fade-start' : ''}${scroll.edges.end ? ' fade-end' : ''}`}>
      <div
        ref={scroll.ref}
        onScroll={scroll.update}
        className="toolbar"
        role="toolbar"
        aria-label="Formatting"
        aria-controls="note-editor"
        onKeyDown={onKeyDown}
      >
        {groups.map((group, g) => (
          <span key={g} className="toolbar-group">
            {g > 0 ? <span className="toolbar-sep" role="separator" aria-orientation="vertical" /> : null}
            {group.map((tool) => {
              i += 1
              const index = i
              const pressed = state.active[index]
              return (
                <button
                  key={tool.id}
                  ref={(el) => {
                    buttons.current[index] = el
                  }}
                  type="button"
                  className={`tool${tool.icon ? '' : ' tool-text'}`}
                  title={tool.shortcut ? `${tool.label} (${tool.shortcut})` : tool.label}
                  aria-label={tool.icon ? tool.label : undefined}
                  aria-pressed={pressed === null || pressed === undefined ? undefined : pressed}
                  tabIndex={index === focusIndex ? 0 : -1}
                  disabled={!state.editable}
                  data-tool={tool.id}
                  onMouseDown={(ev) => ev.preventDefault()}
                  onClick={() => tool.run(editor)}
                >
                  {tool.icon ? <Icon name={tool.icon} /> : tool.label}
                </button>
              )
            })}
          </span>
        ))}
      </div>
    </div>
  )
}

interface NoteEditorProps {
  connection: NoteConnection
  user: AwarenessUser
  editable: boolean
  onReady: (editor: Editor) => void
  /** The text box's accessible name (default "Note content"). */
  label?: string
  placeholder?: string
}

export function NoteEditor({ connection, user, editable, onReady, label = 'Note content', placeholder }: NoteEditorProps) {
  const [linkAsk, setLinkAsk] = useState<{ previous: string; resolve: (v: string | null) => void } | null>(null)
  const askLink: LinkAsk = useCallback((previous) => new Promise((resolve) => setLinkAsk({ previous, resolve })), [])
  const [groups] = useState(() => tools(askLink))
  const editor = useEditor(
    {
      editable,
      extensions: [
        StarterKit.configure({
          undoRedo: false,
          link: { openOnClick: false, autolink: true, defaultProtocol: 'https' },
          heading: { levels: [1, 2, 3] },
        }),
        Collaboration.configure({ document: connection.doc, field: FRAGMENT }),
        CollaborationCaret.configure({
          provider: connection.provider,
          user,
          render: caretRenderer(connection.awareness),
          selectionRender: selectionRenderer(connection.awareness),
        }),
        Placeholder.configure({ placeholder: placeholder ?? 'Start writing… use the toolbar or Markdown shortcuts like # and -' }),
      ],
      editorProps: {
        attributes: {
          class: 'prose',
          role: 'textbox',
          'aria-multiline': 'true',
          'aria-label': label,
          spellcheck: 'true',
        },
      },
    },
    [connection],
  )
  useEffect(() => {
    editor.setOptions({
      editorProps: {
        ...editor.options.editorProps,
        handleKeyDown: (_view, event) => {
          if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k') {
            event.preventDefault()
            void editLink(editor, askLink)
            return true
          }
          return false
        },
      },
    })
    onReady(editor)
  }, [editor, askLink, onReady])
  useEffect(() => {
    if (editor.isEditable !== editable) editor.setEditable(editable)
  }, [editor, editable])
  // our own awareness `user` (CollaborationCaret set it when the editor was made)
  useEffect(() => {
    editor.commands.updateUser({ ...user })
  }, [editor, user])

  return (
    <div className="editor-shell">
      <Toolbar editor={editor} groups={groups} />
      <EditorContent editor={editor} className="editor-mount" id="note-editor" />
      {linkAsk ? (
        <LinkDialog
          previous={linkAsk.previous}
          onDone={(value) => {
            linkAsk.resolve(value)
            setLinkAsk(null)
          }}
        />
      ) : null}
    </div>
  )
}
