/** The notes area with no note open. */
import { useEffect } from 'react'
import { Icon } from '../ui/Icon'
import { ContinueWatching } from '../courses/ContinueWatching'

export default function NotesHome() {
  useEffect(() => {
    document.title = 'Notes · Workbook'
  }, [])
  return (
    <div className="empty-state">
      <div className="empty-illustration" aria-hidden="true">
        <Icon name="note" />
      </div>
      <h1 className="empty-title">Pick a note or start a new one</h1>
      <p className="muted">Notes sync live with everyone you share them with, and keep working offline.</p>
      <ContinueWatching />
    </div>
  )
}
