/**
 * The account page: who is signed in, a password change (every other device is signed out,
 * this one stays), and "sign out everywhere" (every device, this one included). Both end the
 * account's access tokens at once on the server (README, "Signing out everywhere").
 */
import { useEffect, useState, type FormEvent } from 'react'
import { useNavigate } from 'react-router'
import { useQueryClient } from '@tanstack/react-query'
import { api, ApiError, apiError, authedFetch, describe } from '../api/client'
import { forgetLocalDocuments } from '../collab/forget'
import { accept, clear } from '../lib/session'
import { useUser } from '../lib/useSession'
import { toast } from '../ui/toast'
import './account.css'

const EVERYWHERE = 'You were signed out on every device.'
const DELETED = 'Your account was deleted.'

type Field = 'currentPassword' | 'newPassword' | 'confirmPassword'

export default function AccountPage() {
  const user = useUser()
  const navigate = useNavigate()
  const client = useQueryClient()
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({})
  const [formError, setFormError] = useState('')
  const [busy, setBusy] = useState<'password' | 'everywhere' | 'export' | 'delete' | null>(null)
  const [exportNote, setExportNote] = useState('')
  const [deleteError, setDeleteError] = useState('')
  const [everywhereError, setEverywhereError] = useState('')

  useEffect(() => {
    document.title = 'Account · Workbook'
  }, [])

  const changePassword = async (ev: FormEvent<HTMLFormElement>) => {
    ev.preventDefault()
    const form = ev.currentTarget
    const data = new FormData(form)
    const currentPassword = String(data.get('currentPassword') ?? '')
    const newPassword = String(data.get('newPassword') ?? '')
    const found: Partial<Record<Field, string>> = {}
    if (!currentPassword) found.currentPassword = 'Enter your current password.'
    if (newPassword.length < 8) found.newPassword = 'Use at least 8 characters.'
    if (newPassword !== String(data.get('confirmPassword') ?? '')) found.confirmPassword = 'The two new passwords differ.'
    setErrors(found)
    setFormError('')
    if (Object.keys(found).length) return
    setBusy('password')
    try {
      const result = await api.POST('/api/workbook/auth/password', { body: { currentPassword, newPassword } })
      if (!result.response.ok || !result.data) {
        const body = result.error as { error?: { message?: string; fields?: { field?: string; message?: string }[] } } | undefined
        const field = body?.error?.fields?.[0]
        if (field?.field === 'currentPassword') setErrors({ currentPassword: 'This is not your current password.' })
        else setFormError(describe(new ApiError(result.response.status, 'error', body?.error?.message ?? 'Could not change the password.')))
        return
      }
      accept(result.data)
      form.reset()
      toast('Password changed. Your other devices were signed out.')
    } catch (err) {
      setFormError(describe(err))
    } finally {
      setBusy(null)
    }
  }

  const signOutEverywhere = async () => {
    if (!confirm('Sign out on every device, this one included?')) return
    setBusy('everywhere')
    setEverywhereError('')
    try {
      const result = await api.POST('/api/workbook/auth/logout-all')
      if (!result.response.ok) throw new ApiError(result.response.status, 'error', 'Could not sign out everywhere.')
      clear(EVERYWHERE)
      await forgetLocalDocuments()
      client.clear()
      navigate('/login', { replace: true, state: { notice: EVERYWHERE } })
    } catch (err) {
      // said beside the button (a toast would be gone before it is read): offline, mostly
      setEverywhereError(describe(err))
      setBusy(null)
    }
  }

  const downloadData = async () => {
    setBusy('export')
    setExportNote('Preparing your export…')
    try {
      let response = await authedFetch(new Request('/api/workbook/me/export'))
      if (response.status === 202) {
        // a large account: a background job builds the zip; its status is cheap to ask for
        const job = (await response.json()) as { statusUrl: string; downloadUrl?: string | null; status: string }
        let status = job
        for (let i = 0; i < 300 && status.status === 'pending'; i++) {
          await new Promise((resolve) => setTimeout(resolve, 2000))
          status = (await (await authedFetch(new Request(job.statusUrl))).json()) as typeof job
        }
        if (status.status !== 'done' || !status.downloadUrl) throw new Error('The export failed. Please try again later.')
        response = await authedFetch(new Request(status.downloadUrl))
      }
      if (!response.ok) throw apiError(response, await response.json().catch(() => undefined))
      const url = URL.createObjectURL(await response.blob())
      const link = document.createElement('a')
      link.href = url
      link.download = `workbook-export-${new Date().toISOString().slice(0, 10)}.zip`
      link.click()
      setTimeout(() => URL.revokeObjectURL(url), 60_000)
      setExportNote('Your export was downloaded.')
    } catch (err) {
      setExportNote(describe(err))
    } finally {
      setBusy(null)
    }
  }

  const deleteAccount = async (ev: FormEvent<HTMLFormElement>) => {
    ev.preventDefault()
    const password = String(new FormData(ev.currentTarget).get('deletePassword') ?? '')
    if (!password) {
      setDeleteError('Enter your password to confirm.')
      return
    }
    if (!confirm('Delete your account and everything in it? This cannot be undone.')) return
    setBusy('delete')
    setDeleteError('')
    try {
      const result = await api.DELETE('/api/workbook/me', { body: { password } })
      if (!result.response.ok) {
        const err = apiError(result.response, result.error)
        setDeleteError(err.fields[0]?.field === 'password' ? 'This is not your password.' : describe(err))
        setBusy(null)
        return
      }
      clear(DELETED)
      await forgetLocalDocuments()
      client.clear()
      navigate('/login', { replace: true, state: { notice: DELETED } })
    } catch (err) {
      setDeleteError(describe(err))
      setBusy(null)
    }
  }

  const field = (id: Field, label: string, autoComplete: string) => (
    <div className="field">
      <label htmlFor={id} className="label">
        {label}
      </label>
      <input
        id={id}
        name={id}
        type="password"
        className="input"
        autoComplete={autoComplete}
        required
        aria-invalid={errors[id] ? true : undefined}
        aria-describedby={`${id}-error`}
      />
      <span className="field-error" id={`${id}-error`}>
        {errors[id]}
      </span>
    </div>
  )

  return (
    <main className="area-page account-page" id="main">
      <h1>Account</h1>
      <section className="account-card" aria-labelledby="who">
        <h2 id="who">Signed in as</h2>
        <p className="account-who">
          <strong>{user?.name}</strong>
          <span className="muted">{user?.email}</span>
        </p>
      </section>
      <section className="account-card" aria-labelledby="password-title">
        <h2 id="password-title">Change password</h2>
        <p className="muted">Your other devices are signed out; this one stays signed in.</p>
        <form noValidate onSubmit={(ev) => void changePassword(ev)} aria-describedby="password-form-error">
          {field('currentPassword', 'Current password', 'current-password')}
          {field('newPassword', 'New password', 'new-password')}
          {field('confirmPassword', 'New password again', 'new-password')}
          <p className="form-error" role="alert" id="password-form-error">
            {formError}
          </p>
          <button type="submit" className="btn btn-primary" disabled={busy !== null}>
            {busy === 'password' ? 'Changing…' : 'Change password'}
          </button>
        </form>
      </section>
      <section className="account-card" aria-labelledby="everywhere-title">
        <h2 id="everywhere-title">Sign out everywhere</h2>
        <p className="muted">Lost a phone, or signed in on a shared computer? This ends every session of your account at once.</p>
        <button type="button" className="btn btn-danger" disabled={busy !== null} onClick={() => void signOutEverywhere()}>
          {busy === 'everywhere' ? 'Signing out…' : 'Sign out everywhere'}
        </button>
        <p className="form-error" role="alert">
          {everywhereError}
        </p>
      </section>
      <section className="account-card" aria-labelledby="data-title">
        <h2 id="data-title">Your data</h2>
        <p className="muted">A zip of everything you own: notes, recordings with transcripts, progress, and what you wrote in live sessions.</p>
        <button type="button" className="btn" disabled={busy !== null} onClick={() => void downloadData()}>
          {busy === 'export' ? 'Preparing…' : 'Download my data'}
        </button>
        <p className="muted" role="status">
          {exportNote}
        </p>
      </section>
      <section className="account-card account-danger" aria-labelledby="delete-title">
        <h2 id="delete-title">Delete account</h2>
        <p className="muted">
          Your notes, recordings, progress and the sessions you host are deleted for good. In other people&apos;s sessions your messages stay, signed
          &ldquo;Deleted user&rdquo;.
        </p>
        <form noValidate onSubmit={(ev) => void deleteAccount(ev)}>
          <div className="field">
            <label htmlFor="deletePassword" className="label">
              Password
            </label>
            <input
              id="deletePassword"
              name="deletePassword"
              type="password"
              className="input"
              autoComplete="current-password"
              aria-invalid={deleteError ? true : undefined}
              aria-describedby="deletePassword-error"
            />
            <span className="field-error" id="deletePassword-error">
              {deleteError}
            </span>
          </div>
          <button type="submit" className="btn btn-danger" disabled={busy !== null}>
            {busy === 'delete' ? 'Deleting…' : 'Delete my account'}
          </button>
        </form>
      </section>
    </main>
  )
}
