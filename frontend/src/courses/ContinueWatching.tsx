/** "Continue watching": lessons started and not finished (on /courses and the notes home). */
import { Link } from 'react-router'
import { formatTime, useContinue } from '../api/courses'
import './courses.css'

export function ContinueWatching() {
  const items = useContinue()
  if (!items.data?.length) return null
  return (
    <section className="continue" aria-labelledby="continue-h">
      <h2 id="continue-h">Continue watching</h2>
      <ul className="continue-list">
        {items.data.map((item) => (
          <li key={item.lessonId}>
            <Link to={`/lessons/${item.lessonId}`} className="continue-card">
              <span className="continue-title">{item.lessonTitle}</span>
              <span className="muted">{item.moduleTitle}</span>
              <progress
                max={item.durationSeconds || 1}
                value={item.positionSeconds}
                aria-label={`${item.lessonTitle}: at ${formatTime(item.positionSeconds)} of ${formatTime(item.durationSeconds)}`}
              />
            </Link>
          </li>
        ))}
      </ul>
    </section>
  )
}
