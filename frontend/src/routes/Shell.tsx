/** The app shell: navigation between the areas, the signed-in user, sign-out. */
import { useEffect, useState } from 'react'
import { NavLink, Outlet, useNavigate } from 'react-router'
import { useQueryClient } from '@tanstack/react-query'
import { forgetLocalDocuments } from '../collab/forget'
import { logout } from '../lib/session'
import { useUser } from '../lib/useSession'
import { colorFor, initials, serverColor, textOn } from '../lib/util'
import { Icon, type IconName } from '../ui/Icon'

const AREAS: { to: string; label: string; icon: IconName }[] = [
  { to: '/notes', label: 'Notes', icon: 'note' },
  { to: '/courses', label: 'Courses', icon: 'book' },
  { to: '/sessions', label: 'Live sessions', icon: 'live' },
  { to: '/recordings', label: 'Recordings', icon: 'video' },
]

/** Only for admins (the server refuses everyone else anyway). */
const ADMIN_AREA: { to: string; label: string; icon: IconName } = { to: '/admin/analytics', label: 'Analytics', icon: 'chart' }

export default function Shell() {
  const user = useUser()
  const navigate = useNavigate()
  const client = useQueryClient()
  const name = user?.name || user?.email || 'Me'
  const [color, setColor] = useState(() => colorFor(user?.id ?? ''))
  useEffect(() => {
    if (user) void serverColor(user.id).then(setColor)
  }, [user])

  const signOut = async () => {
    await logout()
    await forgetLocalDocuments()
    client.clear()
    navigate('/login', { replace: true })
  }

  return (
    <div className="app">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span className="brand-name">Workbook</span>
        </div>
        <nav className="area-nav" aria-label="Areas">
          {(user?.role === 'admin' ? [...AREAS, ADMIN_AREA] : AREAS).map((area) => (
            <NavLink key={area.to} to={area.to} className="area-link">
              <Icon name={area.icon} />
              <span>{area.label}</span>
            </NavLink>
          ))}
        </nav>
        <div className="account">
          <NavLink to="/account" className="account-link" title="Account">
            <span className="avatar avatar-sm" style={{ backgroundColor: color, color: textOn(color) }} aria-hidden="true">
              {initials(name)}
            </span>
            <span className="account-name">
              <span className="visually-hidden">Account: signed in as </span>
              {name}
            </span>
          </NavLink>
          <button type="button" className="icon-btn" aria-label="Sign out" title="Sign out" onClick={() => void signOut()}>
            <Icon name="logout" />
          </button>
        </div>
      </header>
      <div className="area">
        <Outlet />
      </div>
    </div>
  )
}
