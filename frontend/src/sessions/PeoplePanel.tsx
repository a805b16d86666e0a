/** Participants with role, presence, media and hand; my hand and media; host moderation. */
import type { RoomCtx } from './RoomPage'
import type { RoomView } from './model'

const ROLE_LABEL: Record<string, string> = {
  host: 'Host',
  'co-host': 'Co-host',
  presenter: 'Presenter',
  participant: 'Participant',
  viewer: 'Viewer',
}

/** Who speaks comes from the room state (`view.speaker`: measured by the relay from each
 * voice's audio level, the same on every page and node; peer to peer the list shows no speaker,
 * only the stage does, from what this page receives). */
export function PeoplePanel({ ctx, view }: { ctx: RoomCtx; view: RoomView }) {
  const { act, me, isHost, role, readOnly } = ctx
  const handIndex = new Map(view.hands.map((h, i) => [h.userId, i + 1]))
  const myHand = handIndex.has(me)
  const live = view.status === 'live'

  return (
    <section className="panel panel-people" aria-labelledby="people-title">
      <h2 id="people-title">
        People <span className="count">{view.participants.length}</span>
      </h2>
      <div className="my-controls">
        {role !== 'viewer' ? (
          <button
            type="button"
            className={`btn ${myHand ? 'btn-primary' : ''}`}
            aria-pressed={myHand}
            disabled={readOnly || !live}
            onClick={() => void act(myHand ? 'hand.lower' : 'hand.raise')}
          >
            {myHand ? 'Lower hand' : 'Raise hand'}
          </button>
        ) : null}
      </div>
      {isHost && view.hands.length ? (
        <div className="hand-queue">
          <h3>Raised hands</h3>
          <ol aria-label="Raised hands, first raised first">
            {view.hands.map((h) => (
              <li key={h.userId}>
                <span>{h.name}</span>
                <button type="button" className="link-btn" disabled={readOnly} onClick={() => void act('hand.lower', { userId: h.userId })}>
                  Lower<span className="visually-hidden"> {h.name}'s hand</span>
                </button>
              </li>
            ))}
          </ol>
          <button type="button" className="btn btn-sm" disabled={readOnly} onClick={() => void act('hand.lowerAll')}>
            Lower all hands
          </button>
        </div>
      ) : null}
      <ul className="people" aria-label="Participants">
        {view.participants.map((p) => {
          const presence = view.presence.get(p.userId)
          const hand = handIndex.get(p.userId)
          const sent = view.media.get(p.userId) ?? view.p2p.get(p.userId)
          const speaking = view.speaker.speaking.includes(p.userId)
          const canModerate = isHost && p.userId !== me && p.role !== 'host' && !(role === 'co-host' && p.role === 'co-host')
          return (
            <li key={p.userId} className={`person ${speaking ? 'person-speaking' : ''}`} data-user={p.userId} data-speaking={speaking ? 'true' : undefined}>
              <span className={`dot ${presence ? 'dot-on' : ''}`} aria-hidden="true" />
              <span className="person-name">
                {p.name}
                {p.userId === me ? ' (you)' : ''}
                <span className="visually-hidden">{presence ? ', online' : ', away'}</span>
              </span>
              <span className={`role role-${p.role}`}>{ROLE_LABEL[p.role] ?? p.role}</span>
              {hand ? (
                <span className="hand-tag">
                  Hand {hand}
                </span>
              ) : null}
              {sent ? (
                <span className="media" data-media={Object.keys(sent).sort().join(' ')}>
                  {sent.audio ? (sent.audio.muted ? (sent.audio.forced ? 'muted by a host' : 'muted') : speaking ? 'speaking' : 'mic on') : 'no mic'}
                  {sent.camera ? ' · camera' : ''}
                  {sent.screen ? ' · screen' : ''}
                </span>
              ) : null}
              {canModerate && !readOnly ? (
                <span className="person-actions">
                  {role === 'host' ? (
                    <button
                      type="button"
                      className="link-btn"
                      aria-label={p.role === 'co-host' ? `Make participant: ${p.name}` : `Make co-host: ${p.name}`}
                      onClick={() => void act('participant.setRole', { userId: p.userId, role: p.role === 'co-host' ? 'participant' : 'co-host' })}
                    >
                      {p.role === 'co-host' ? 'Make participant' : 'Make co-host'}
                    </button>
                  ) : null}
                  {sent?.audio && !sent.audio.muted ? (
                    <button type="button" className="link-btn" aria-label={`Mute ${p.name}`} onClick={() => void act('media.mute', { userId: p.userId, source: 'audio', muted: true })}>
                      Mute
                    </button>
                  ) : null}
                  <button type="button" className="link-btn danger" aria-label={`Remove ${p.name}`} onClick={() => void act('participant.remove', { userId: p.userId })}>
                    Remove
                  </button>
                </span>
              ) : null}
            </li>
          )
        })}
      </ul>
    </section>
  )
}
