/** Sign in / create account (usable with the keyboard alone: labelled fields, Enter submits). */
import { useEffect, useRef, useState, type FormEvent } from 'react'
import { Link, useLocation, useNavigate } from 'react-router'
import { apiError } from '../api/http'
import { forgetLocalDocuments } from '../collab/forget'
import { accept, login, OfflineError, register, takeSignOutNotice } from '../lib/session'
import { useUser } from '../lib/useSession'

type Field = 'name' | 'email' | 'password'

export function AuthPage({ mode }: { mode: 'login' | 'register' }) {
  const isLogin = mode === 'login'
  const navigate = useNavigate()
  const location = useLocation()
  const user = useUser()
  const [formError, setFormError] = useState('')
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<Field, string>>>({})
  const [busy, setBusy] = useState(false)
  const formRef = useRef<HTMLFormElement>(null)
  const from = (location.state as { from?: string } | null)?.from ?? '/notes'
  // why the session ended: said by the page that ended it, else kept by `clear` (this page may
  // already be showing when that page navigates here)
  const [ended] = useState(takeSignOutNotice)
  const notice = (location.state as { notice?: string } | null)?.notice ?? ended

  useEffect(() => {
    document.title = `${isLogin ? 'Sign in' : 'Create account'} · Workbook`
    formRef.current?.querySelector<HTMLInputElement>('input')?.focus()
    setFormError('')
    setFieldErrors({})
  }, [isLogin])

  useEffect(() => {
    if (user && !busy) navigate(from, { replace: true })
  }, [user, busy, from, navigate])

  const onSubmit = async (ev: FormEvent<HTMLFormElement>) => {
    ev.preventDefault()
    const form = ev.currentTarget
    setFormError('')
    const errors: Partial<Record<Field, string>> = {}
    for (const input of form.querySelectorAll('input')) {
      if (!input.checkValidity()) errors[input.name as Field] = input.validationMessage
    }
    setFieldErrors(errors)
    if (Object.keys(errors).length) {
      form.querySelector<HTMLInputElement>(`[name=${Object.keys(errors)[0]}]`)?.focus()
      return
    }
    const data = new FormData(form)
    const email = String(data.get('email') ?? '').trim()
    const password = String(data.get('password') ?? '')
    const name = String(data.get('name') ?? '').trim()
    setBusy(true)
    try {
      const result = isLogin ? await login(email, password) : await register(name, email, password)
      if (!result.response.ok || !result.data) {
        const err = apiError(result.response, result.error)
        if (result.response.status === 401) setFormError('Wrong email or password.')
        else if (result.response.status === 429) {
          setFormError(
            err.retryAfter !== null
              ? `Too many attempts. Please try again in ${err.retryAfter} s.`
              : 'Too many attempts. Please wait a few minutes and try again.',
          )
        } else setFormError(err.message)
        const fromServer: Partial<Record<Field, string>> = {}
        for (const f of err.fields) if (f.field === 'name' || f.field === 'email' || f.field === 'password') fromServer[f.field] = f.message
        setFieldErrors(fromServer)
        return
      }
      const session = result.data
      const previous = localStorage.getItem('collab.lastUserId')
      if (previous && previous !== session.user.id) {
        // another person used this browser: drop their offline copies first
        await forgetLocalDocuments()
      }
      accept(session)
      navigate(from, { replace: true })
    } catch (err) {
      setFormError(err instanceof OfflineError ? 'You are offline. Connect to sign in.' : (err as Error).message)
    } finally {
      setBusy(false)
    }
  }

  const field = (id: Field, label: string, attrs: React.InputHTMLAttributes<HTMLInputElement>) => (
    <div className="field">
      <label htmlFor={id} className="label">
        {label}
      </label>
      <input
        id={id}
        name={id}
        className="input"
        required
        aria-invalid={fieldErrors[id] ? true : undefined}
        aria-describedby={`${id}-error`}
        {...attrs}
      />
      <span className="field-error" id={`${id}-error`}>
        {fieldErrors[id]}
      </span>
    </div>
  )

  return (
    <main className="auth-page">
      <section className="auth-card" aria-labelledby="auth-title">
        <div className="brand brand-lg">
          <span className="brand-mark" aria-hidden="true" />
          Workbook
        </div>
        <h1 id="auth-title" className="auth-title">
          {isLogin ? 'Welcome back' : 'Create your account'}
        </h1>
        <p className="muted">
          {isLogin
            ? 'Sign in to write notes together with your workshop group.'
            : 'Write notes together, keep writing offline, take them with you.'}
        </p>
        {notice ? (
          <p className="auth-notice" role="status">
            {notice}
          </p>
        ) : null}
        <form ref={formRef} className="auth-form" noValidate aria-describedby="auth-error" onSubmit={(ev) => void onSubmit(ev)} key={mode}>
          {isLogin ? null : field('name', 'Your name', { autoComplete: 'name', maxLength: 100 })}
          {field('email', 'Email', { type: 'email', autoComplete: 'email' })}
          {field('password', 'Password', {
            type: 'password',
            autoComplete: isLogin ? 'current-password' : 'new-password',
            ...(isLogin ? {} : { minLength: 8 }),
          })}
          <p className="form-error" role="alert" id="auth-error">
            {formError}
          </p>
          <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
            {busy ? (isLogin ? 'Signing in…' : 'Creating account…') : isLogin ? 'Sign in' : 'Create account'}
          </button>
        </form>
        <p className="auth-switch">
          {isLogin ? 'New here? ' : 'Already have an account? '}
          <Link to={isLogin ? '/register' : '/login'} state={location.state}>
            {isLogin ? 'Create an account' : 'Sign in'}
          </Link>
        </p>
      </section>
    </main>
  )
}
