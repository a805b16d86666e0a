/** Modal dialogs on the native <dialog> element (focus trap, Escape and backdrop for free). */
import { h, icon } from './dom'

export interface ModalHandle {
  dialog: HTMLDialogElement
  body: HTMLElement
  footer: HTMLElement
  close: () => void
}

let counter = 0

export function openModal(title: string, options: { wide?: boolean; onClose?: () => void } = {}): ModalHandle {
  const id = `dialog-title-${++counter}`
  const body = h('div', { class: 'modal-body' })
  const footer = h('div', { class: 'modal-footer' })
  const dialog = h(
    'dialog',
    { class: `modal${options.wide ? ' modal-wide' : ''}`, 'aria-labelledby': id },
    h(
      'div',
      { class: 'modal-header' },
      h('h2', { id, class: 'modal-title' }, title),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close dialog', onclick: () => close() }, icon('close')),
    ),
    body,
    footer,
  )
  const close = () => {
    if (dialog.open) dialog.close()
  }
  dialog.addEventListener('close', () => {
    dialog.remove()
    options.onClose?.()
  })
  dialog.addEventListener('click', (ev) => {
    if (ev.target === dialog) close()
  })
  document.body.appendChild(dialog)
  dialog.showModal()
  return { dialog, body, footer, close }
}

export function confirmDialog(title: string, message: string, confirmLabel: string, danger = false): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = false
    const modal = openModal(title, { onClose: () => resolve(answer) })
    modal.body.append(h('p', {}, message))
    const ok = h('button', { type: 'button', class: danger ? 'btn btn-danger' : 'btn btn-primary', onclick: () => { answer = true; modal.close() } }, confirmLabel)
    modal.footer.append(h('button', { type: 'button', class: 'btn', onclick: () => modal.close() }, 'Cancel'), ok)
    ok.focus()
  })
}

/** Ask for a link target. Resolves to the URL, '' to remove the link, or null when cancelled. */
export function askForLink(previous: string): Promise<string | null> {
  return new Promise((resolve) => {
    let answer: string | null = null
    const modal = openModal(previous ? 'Edit link' : 'Add link', { onClose: () => resolve(answer) })
    const input = h('input', { id: 'link-url', type: 'text', inputmode: 'url', spellcheck: 'false', class: 'input', value: previous, placeholder: 'https://example.com', autocomplete: 'url' })
    const form = h(
      'form',
      {
        class: 'stack',
        onsubmit: (ev: Event) => {
          ev.preventDefault()
          const value = input.value.trim()
          answer = value && !/^[a-z][a-z0-9+.-]*:/i.test(value) ? `https://${value}` : value
          modal.close()
        },
      },
      h('label', { for: 'link-url', class: 'label' }, 'Link address'),
      input,
    )
    modal.body.append(form)
    if (previous) {
      modal.footer.append(h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => { answer = ''; modal.close() } }, 'Remove link'))
    }
    modal.footer.append(
      h('button', { type: 'button', class: 'btn', onclick: () => modal.close() }, 'Cancel'),
      h('button', { type: 'button', class: 'btn btn-primary', onclick: () => form.requestSubmit() }, 'Apply'),
    )
    input.focus()
    input.select()
  })
}
