/** Small dialogs of the note page: a link address, a confirmation. */
import { useRef, useState } from 'react'
import { Modal } from '../ui/Modal'

/** Ask for a link target: `onDone(url)`, `''` to remove the link, `null` when cancelled. */
export function LinkDialog({ previous, onDone }: { previous: string; onDone: (value: string | null) => void }) {
  const [value, setValue] = useState(previous)
  const form = useRef<HTMLFormElement>(null)
  const submit = () => {
    const v = value.trim()
    onDone(v && !/^[a-z][a-z0-9+.-]*:/i.test(v) ? `https://${v}` : v)
  }
  return (
    <Modal
      title={previous ? 'Edit link' : 'Add link'}
      onClose={() => onDone(null)}
      footer={
        <>
          {previous ? (
            <button type="button" className="btn btn-ghost" onClick={() => onDone('')}>
              Remove link
            </button>
          ) : null}
          <button type="button" className="btn" onClick={() => onDone(null)}>
            Cancel
          </button>
          <button type="button" className="btn btn-primary" onClick={() => form.current?.requestSubmit()}>
            Apply
          </button>
        </>
      }
    >
      <form
        ref={form}
        className="stack"
        onSubmit={(ev) => {
          ev.preventDefault()
          submit()
        }}
      >
        <label htmlFor="link-url" className="label">
          Link address
        </label>
        <input
          id="link-url"
          type="text"
          inputMode="url"
          spellCheck={false}
          className="input"
          value={value}
          placeholder="https://example.com"
          autoComplete="url"
          data-autofocus
          onFocus={(ev) => ev.currentTarget.select()}
          onChange={(ev) => setValue(ev.target.value)}
        />
      </form>
    </Modal>
  )
}

export function ConfirmDialog(props: {
  title: string
  message: string
  confirmLabel: string
  danger?: boolean
  onDone: (ok: boolean) => void
}) {
  return (
    <Modal
      title={props.title}
      onClose={() => props.onDone(false)}
      footer={
        <>
          <button type="button" className="btn" onClick={() => props.onDone(false)}>
            Cancel
          </button>
          <button
            type="button"
            className={props.danger ? 'btn btn-danger' : 'btn btn-primary'}
            data-autofocus
            onClick={() => props.onDone(true)}
          >
            {props.confirmLabel}
          </button>
        </>
      }
    >
      <p>{props.message}</p>
    </Modal>
  )
}
