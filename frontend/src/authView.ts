/** Sign in / create account. */
import { errorFrom } from './api'
import { forgetLocalDocuments } from './collab'
import { h, mount } from './dom'
import { accept, login, register, OfflineError, type AuthResponse } from './session'

export function renderAuth(root: HTMLElement, mode: 'login' | 'register', onDone: () => void): void {
  const isLogin = mode === 'login'
  const formError = h('p', { class: 'form-error', role: 'alert', id: 'auth-error' })
  const field = (id: string, label: string, attrs: Record<string, unknown>) => {
    const error = h('span', { class: 'field-error', id: `${id}-error` })
    const input = h('input', { id, name: id, class: 'input', required: true, 'aria-describedby': `${id}-error`, ...attrs })
    return { wrap: h('div', { class: 'field' }, h('label', { for: id, class: 'label' }, label), input, error), input, error }
  }
  const name = field('name', 'Your name', { autocomplete: 'name', maxlength: '100' })
  const email = field('email', 'Email', { type: 'email', autocomplete: 'email' })
  const password = field('password', 'Password', {
    type: 'password', autocomplete: isLogin ? 'current-password' : 'new-password', minlength: isLogin ? undefined : '8',
  })
  const fields: Record<string, { input: HTMLInputElement; error: HTMLElement }> = { name, email, password }
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, isLogin ? 'Sign in' : 'Create account')

  const form = h(
    'form',
    {
      class: 'auth-form',
      novalidate: true,
      'aria-describedby': 'auth-error',
      onsubmit: async (ev: Event) => {
        ev.preventDefault()
        formError.textContent = ''
        for (const f of Object.values(fields)) {
          f.error.textContent = ''
          f.input.removeAttribute('aria-invalid')
        }
        if (!form.checkValidity()) {
          for (const f of Object.values(fields)) {
            if (f.input.isConnected && !f.input.checkValidity()) {
              f.error.textContent = f.input.validationMessage
              f.input.setAttribute('aria-invalid', 'true')
            }
          }
          form.querySelector<HTMLInputElement>('[aria-invalid=true]')?.focus()
          return
        }
        submit.disabled = true
        submit.textContent = isLogin ? 'Signing in…' : 'Creating account…'
        try {
          const response = isLogin
            ? await login(email.input.value.trim(), password.input.value)
            : await register(name.input.value.trim(), email.input.value.trim(), password.input.value)
          if (!response.ok) {
            const err = await errorFrom(response)
            if (response.status === 401) formError.textContent = 'Wrong email or password.'
            else if (response.status === 429) formError.textContent = 'Too many attempts. Please wait a few minutes and try again.'
            else formError.textContent = err.message
            for (const f of err.fields) {
              const target = fields[f.field]
              if (target) {
                target.error.textContent = f.message
                target.input.setAttribute('aria-invalid', 'true')
              }
            }
            return
          }
          const session = (await response.json()) as AuthResponse
          const previous = localStorage.getItem('collab.lastUserId')
          if (previous && previous !== session.user.id) {
            // another person used this browser: drop their offline copies first
            await forgetLocalDocuments()
          }
          accept(session)
          onDone()
        } catch (err) {
          formError.textContent = err instanceof OfflineError ? 'You are offline. Connect to sign in.' : (err as Error).message
        } finally {
          submit.disabled = false
          submit.textContent = isLogin ? 'Sign in' : 'Create account'
        }
      },
    },
    isLogin ? null : name.wrap,
    email.wrap,
    password.wrap,
    formError,
    submit,
  )

  mount(
    root,
    h(
      'main',
      { class: 'auth-page' },
      h(
        'section',
        { class: 'auth-card', 'aria-labelledby': 'auth-title' },
        h('div', { class: 'brand brand-lg' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Workbook Notes'),
        h('h1', { id: 'auth-title', class: 'auth-title' }, isLogin ? 'Welcome back' : 'Create your account'),
        h('p', { class: 'muted' }, isLogin ? 'Sign in to write notes together with your workshop group.' : 'Write notes together, keep writing offline, take them with you.'),
        form,
        h(
          'p',
          { class: 'auth-switch' },
          isLogin ? 'New here? ' : 'Already have an account? ',
          h('a', { href: isLogin ? '#/register' : '#/login' }, isLogin ? 'Create an account' : 'Sign in'),
        ),
      ),
    ),
  )
  ;(isLogin ? email.input : name.input).focus()
}
