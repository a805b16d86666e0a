/** The share dialog: invite by email with read or write access, change or revoke access. */
import { useState, type FormEvent } from 'react'
import { useQuery, useQueryClient } from '@tanstack/react-query'
import { api, ApiError, describe, must } from '../api/client'
import { keys, type Share } from '../api/notes'
import { colorFor, initials, textOn } from '../lib/util'
import { Icon } from '../ui/Icon'
import { Modal } from '../ui/Modal'
import { toast } from '../ui/toast'

type Permission = Share['permission']

export function ShareDialog({ noteId, title, onClose }: { noteId: string; title: string; onClose: () => void }) {
  const client = useQueryClient()
  const shares = useQuery({
    queryKey: keys.shares(noteId),
    queryFn: async ({ signal }) =>
      must(await api.GET('/api/workbook/notes/{id}/shares', { params: { path: { id: noteId } }, signal })).shares,
  })
  const [email, setEmail] = useState('')
  const [permission, setPermission] = useState<Permission>('write')
  const [error, setError] = useState('')
  const setShares = (fn: (list: Share[]) => Share[]) => client.setQueryData<Share[]>(keys.shares(noteId), (list) => fn(list ?? []))

  const invite = async (ev: FormEvent) => {
    ev.preventDefault()
    setError('')
    const address = email.trim()
    try {
      const { share } = must(
        await api.POST('/api/workbook/notes/{id}/shares', { params: { path: { id: noteId } }, body: { email: address, permission } }),
      )
      setShares((list) => [...list.filter((s) => s.userId !== share.userId), share])
      void client.invalidateQueries({ queryKey: keys.lists })
      toast(`Shared with ${share.email}`)
      setEmail('')
    } catch (err) {
      setError(err instanceof ApiError && err.status === 404 ? 'No user with that email address.' : describe(err))
      document.getElementById('share-email')?.focus()
    }
  }

  const change = async (share: Share, value: Permission) => {
    const label = share.name || share.email
    try {
      must(await api.POST('/api/workbook/notes/{id}/shares', { params: { path: { id: noteId } }, body: { email: share.email, permission: value } }))
      setShares((list) => list.map((s) => (s.userId === share.userId ? { ...s, permission: value } : s)))
      toast(`${label} can now ${value === 'write' ? 'edit' : 'view'}`)
    } catch (err) {
      toast(describe(err), 'error')
    }
  }

  const remove = async (share: Share) => {
    const label = share.name || share.email
    try {
      must(await api.DELETE('/api/workbook/notes/{id}/shares/{userId}', { params: { path: { id: noteId, userId: share.userId } } }))
      setShares((list) => list.filter((s) => s.userId !== share.userId))
      void client.invalidateQueries({ queryKey: keys.lists })
      toast(`${label} no longer has access`)
    } catch (err) {
      toast(describe(err), 'error')
    }
  }

  const list = shares.data ?? []
  return (
    <Modal
      title={`Share “${title}”`}
      onClose={onClose}
      footer={
        <button type="button" className="btn" onClick={onClose}>
          Done
        </button>
      }
    >
      <form className="share-form" onSubmit={(ev) => void invite(ev)}>
        <label htmlFor="share-email" className="label">
          Invite by email
        </label>
        <div className="share-form-row">
          <input
            id="share-email"
            type="email"
            className="input"
            required
            autoComplete="off"
            placeholder="name@example.com"
            aria-describedby="share-error"
            aria-invalid={error ? true : undefined}
            data-autofocus
            value={email}
            onChange={(ev) => setEmail(ev.target.value)}
          />
          <select
            id="share-permission"
            className="input select"
            aria-label="Permission"
            value={permission}
            onChange={(ev) => setPermission(ev.target.value as Permission)}
          >
            <option value="write">Can edit</option>
            <option value="read">Can view</option>
          </select>
          <button type="submit" className="btn btn-primary">
            <Icon name="share" />
            Share
          </button>
        </div>
        <p className="field-error" role="alert" id="share-error">
          {error}
        </p>
      </form>
      <h3 className="section-title">People with access</h3>
      <ul className="share-list" aria-label="People with access">
        {shares.isError ? <li className="field-error">{describe(shares.error)}</li> : null}
        {!list.length && !shares.isError ? <li className="muted empty-row">Only you can open this note.</li> : null}
        {list.map((share) => {
          const label = share.name || share.email
          return (
            <li key={share.userId} className="share-row">
              <span className="avatar avatar-sm" style={{ backgroundColor: colorFor(share.userId), color: textOn(colorFor(share.userId)) }} aria-hidden="true">
                {initials(label)}
              </span>
              <span className="share-who">
                <strong>{label}</strong>
                {share.name && share.email ? <small className="muted">{share.email}</small> : null}
              </span>
              <select
                className="input select select-sm"
                aria-label={`Permission for ${label}`}
                value={share.permission}
                onChange={(ev) => void change(share, ev.target.value as Permission)}
              >
                <option value="write">Can edit</option>
                <option value="read">Can view</option>
              </select>
              <button type="button" className="icon-btn" aria-label={`Remove access for ${label}`} onClick={() => void remove(share)}>
                <Icon name="trash" />
              </button>
            </li>
          )
        })}
      </ul>
    </Modal>
  )
}
