/** Any URL the app does not know. */
import { useEffect } from 'react'
import { Link, useLocation } from 'react-router'

export function NotFound() {
  const location = useLocation()
  useEffect(() => {
    document.title = 'Page not found · Workbook'
  }, [])
  return (
    <main className="auth-page" id="main">
      <section className="auth-card" aria-labelledby="not-found-title">
        <h1 id="not-found-title" className="auth-title">
          Page not found
        </h1>
        <p className="muted">
          There is no page at <code>{location.pathname}</code>. It may have moved, or the link is mistyped.
        </p>
        <Link to="/notes" className="btn btn-primary">
          Go to your notes
        </Link>
      </section>
    </main>
  )
}
