/** The share dialog: invite by email with read or write access, change or revoke access. */
import { ApiError, notesApi, type Note, type Share } from './api'
import { h, icon, initials, colorFor, mount, toast } from './dom'
import { openModal } from './dialogs'

export function openShareDialog(note: Note): void {
  const modal = openModal(`Share “${note.title}”`)
  const list = h('ul', { class: 'share-list', 'aria-label': 'People with access' })
  const error = h('p', { class: 'field-error', role: 'alert', id: 'share-error' })
  const email = h('input', {
    id: 'share-email', type: 'email', class: 'input', required: true, autocomplete: 'off',
    placeholder: 'name@example.com', 'aria-describedby': 'share-error',
  })
  const permission = h(
    'select',
    { id: 'share-permission', class: 'input select', 'aria-label': 'Permission' },
    h('option', { value: 'write' }, 'Can edit'),
    h('option', { value: 'read' }, 'Can view'),
  )
  let shares: Share[] = note.shares ?? []

  const render = () => {
    if (!shares.length) {
      mount(list, h('li', { class: 'muted empty-row' }, 'Only you can open this note.'))
      return
    }
    mount(
      list,
      shares.map((share) => {
        const label = share.name || share.email || share.userId
        const select = h(
          'select',
          {
            class: 'input select select-sm',
            'aria-label': `Permission for ${label}`,
            onchange: async () => {
              const value = select.value as 'read' | 'write'
              try {
                if (!share.email) throw new ApiError(400, 'no_email', 'This person can only be removed')
                await notesApi.share(note.id, share.email, value)
                share.permission = value
                toast(`${label} can now ${value === 'write' ? 'edit' : 'view'}`)
              } catch (err) {
                select.value = share.permission
                toast((err as Error).message, 'error')
              }
            },
          },
          h('option', { value: 'write', selected: share.permission === 'write' }, 'Can edit'),
          h('option', { value: 'read', selected: share.permission === 'read' }, 'Can view'),
        )
        return h(
          'li',
          { class: 'share-row' },
          h('span', { class: 'avatar avatar-sm', style: { backgroundColor: colorFor(share.userId) }, 'aria-hidden': 'true' }, initials(label)),
          h('span', { class: 'share-who' }, h('strong', {}, label), share.name && share.email ? h('small', { class: 'muted' }, share.email) : null),
          select,
          h(
            'button',
            {
              type: 'button', class: 'icon-btn', 'aria-label': `Remove access for ${label}`,
              onclick: async () => {
                try {
                  await notesApi.unshare(note.id, share.userId)
                  shares = shares.filter((s) => s.userId !== share.userId)
                  render()
                  toast(`${label} no longer has access`)
                } catch (err) {
                  toast((err as Error).message, 'error')
                }
              },
            },
            icon('trash'),
          ),
        )
      }),
    )
  }

  const form = h(
    'form',
    {
      class: 'share-form',
      onsubmit: async (ev: Event) => {
        ev.preventDefault()
        error.textContent = ''
        email.removeAttribute('aria-invalid')
        try {
          const body = await notesApi.share(note.id, email.value.trim(), permission.value as 'read' | 'write')
          const share = (body.share ?? body) as Share
          const added: Share = {
            userId: share.userId ?? email.value.trim(),
            email: share.email ?? email.value.trim(),
            name: share.name,
            permission: (share.permission ?? permission.value) as 'read' | 'write',
          }
          shares = [...shares.filter((s) => s.userId !== added.userId), added]
          render()
          toast(`Shared with ${added.email}`)
          email.value = ''
        } catch (err) {
          const message = err instanceof ApiError && err.status === 404
            ? 'No user with that email address.'
            : err instanceof ApiError && err.fields.length ? err.fields.map((f) => f.message).join(' ') : (err as Error).message
          error.textContent = message
          email.setAttribute('aria-invalid', 'true')
          email.focus()
        }
      },
    },
    h('label', { for: 'share-email', class: 'label' }, 'Invite by email'),
    h('div', { class: 'share-form-row' }, email, permission, h('button', { type: 'submit', class: 'btn btn-primary' }, icon('share'), 'Share')),
    error,
  )
  modal.body.append(form, h('h3', { class: 'section-title' }, 'People with access'), list)
  modal.footer.append(h('button', { type: 'button', class: 'btn', onclick: () => modal.close() }, 'Done'))
  render()
  email.focus()
  notesApi
    .shares(note.id)
    .then((body) => {
      shares = body.shares
      render()
    })
    .catch(() => undefined) // older servers list shares on the note itself
}
