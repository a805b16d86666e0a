/** Modal dialogs on the native <dialog> element (focus trap, Escape and backdrop for free). */
import { useEffect, useId, useRef, type ReactNode } from 'react'
import { Icon } from './Icon'

interface ModalProps {
  title: string
  onClose: () => void
  wide?: boolean
  children: ReactNode
  footer?: ReactNode
}

export function Modal({ title, onClose, wide, children, footer }: ModalProps) {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  const closeRef = useRef(onClose)
  closeRef.current = onClose
  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    const previous = document.activeElement as HTMLElement | null
    dialog.showModal()
    // focus the first field (or button) the dialog marks with data-autofocus
    dialog.querySelector<HTMLElement>('[data-autofocus]')?.focus()
    const onCancel = () => closeRef.current()
    dialog.addEventListener('close', onCancel)
    return () => {
      dialog.removeEventListener('close', onCancel)
      if (dialog.open) dialog.close()
      previous?.focus?.()
    }
  }, [])
  return (
    <dialog
      ref={ref}
      className={`modal${wide ? ' modal-wide' : ''}`}
      aria-labelledby={titleId}
      onClick={(ev) => {
        if (ev.target === ref.current) ref.current?.close()
      }}
    >
      <div className="modal-header">
        <h2 id={titleId} className="modal-title">
          {title}
        </h2>
        <button type="button" className="icon-btn" aria-label="Close dialog" onClick={() => ref.current?.close()}>
          <Icon name="close" />
        </button>
      </div>
      <div className="modal-body">{children}</div>
      {footer ? <div className="modal-footer">{footer}</div> : null}
    </dialog>
  )
}
