/** Areas whose pages are not built yet: say so plainly, and point back to what works. */
import { useEffect } from 'react'
import { Link, useParams } from 'react-router'
import { Icon, type IconName } from '../ui/Icon'

const COPY: Record<'courses' | 'sessions' | 'recordings', { title: string; text: string; icon: IconName }> = {
  courses: { title: 'Courses', text: 'Course modules and lessons will open here.', icon: 'book' },
  sessions: { title: 'Live sessions', text: 'Join live workshop sessions: vote, ask and raise your hand.', icon: 'live' },
  recordings: { title: 'Recordings', text: 'Watch the recordings of past sessions.', icon: 'video' },
}

export default function ComingSoon({ area }: { area: keyof typeof COPY }) {
  const copy = COPY[area]
  const params = useParams()
  useEffect(() => {
    document.title = `${copy.title} · Workbook`
  }, [copy.title])
  return (
    <main className="area-page coming-soon" id="main">
      <div className="empty-state">
        <div className="empty-illustration" aria-hidden="true">
          <Icon name={copy.icon} />
        </div>
        <h1>{copy.title}: coming soon</h1>
        <p className="muted">{copy.text} This part of Workbook is not available yet.</p>
        {Object.keys(params).length ? <p className="muted">You followed a link to an item here; it will open once this area is ready.</p> : null}
        <Link to="/notes" className="btn">
          Go to your notes
        </Link>
      </div>
    </main>
  )
}
