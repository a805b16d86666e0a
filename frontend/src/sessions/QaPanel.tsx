/**
 * Q&A: ask (optionally anonymous), upvote once, sort by votes or newest; hosts moderate. Which
 * questions I upvoted is the server's (`qa.mine`, asked after every connect), not this page's
 * memory, so it survives a reload and shows on every device.
 */
import { useEffect, useState, type FormEvent } from 'react'
import type { RoomCtx } from './RoomPage'
import type { RoomView } from './model'

const MAX = 500

export function QaPanel({ ctx, view }: { ctx: RoomCtx; view: RoomView }) {
  const { act, isHost, readOnly } = ctx
  const [text, setText] = useState('')
  const [anonymous, setAnonymous] = useState(false)
  const [sort, setSort] = useState<'votes' | 'newest'>('votes')
  const [upvoted, setUpvoted] = useState<Set<string>>(new Set())
  const live = ctx.room.conn.status === 'live'
  useEffect(() => {
    if (!live) return
    void act('qa.mine').then((reply) => {
      if (reply.ok) setUpvoted((s) => new Set([...s, ...((reply.upvoted as string[] | undefined) ?? [])]))
    })
  }, [live, act])
  const disabled = view.settings.questions === false
  const canAsk = !readOnly && !disabled && view.status === 'live' && ctx.role !== 'viewer'
  const questions = view.questions
    .filter((q) => isHost || q.status !== 'dismissed')
    .sort((a, b) => (sort === 'votes' ? b.upvotes - a.upvotes || a.at - b.at : b.at - a.at))

  const ask = async (event: FormEvent) => {
    event.preventDefault()
    const reply = await act('qa.ask', { text: text.trim(), anonymous })
    if (reply.ok) {
      setText('')
      setAnonymous(false)
    }
  }
  const upvote = async (id: string) => {
    const reply = await act('qa.upvote', { questionId: id })
    if (reply.ok || reply.reason === 'already_voted') setUpvoted((s) => new Set(s).add(id))
  }

  return (
    <section className="panel panel-qa" aria-labelledby="qa-title">
      <h2 id="qa-title">
        Q&amp;A <span className="count">{questions.length}</span>
      </h2>
      {disabled ? <p className="muted">Questions are turned off for this session.</p> : null}
      {canAsk ? (
        <form className="qa-form" onSubmit={(e) => void ask(e)}>
          <label htmlFor="qa-input">Your question</label>
          <textarea id="qa-input" className="input" rows={2} maxLength={MAX} value={text} onChange={(e) => setText(e.target.value)} aria-describedby="qa-limit" />
          <div className="chat-form-row">
            {view.settings.anonymousQuestions !== false ? (
              <label className="check">
                <input type="checkbox" checked={anonymous} onChange={(e) => setAnonymous(e.target.checked)} /> Ask anonymously
              </label>
            ) : null}
            <span id="qa-limit" className="muted small">
              {text.length}/{MAX}
            </span>
            <button className="btn btn-primary btn-sm" disabled={!text.trim()}>
              Ask
            </button>
          </div>
        </form>
      ) : null}
      <div className="seg seg-sm" role="group" aria-label="Sort questions">
        <button type="button" className="seg-btn" aria-pressed={sort === 'votes'} onClick={() => setSort('votes')}>
          Top
        </button>
        <button type="button" className="seg-btn" aria-pressed={sort === 'newest'} onClick={() => setSort('newest')}>
          Newest
        </button>
      </div>
      {questions.length === 0 ? <p className="muted">No questions yet.</p> : null}
      <ul className="questions">
        {questions.map((q) => (
          <li key={q.id} className={`question card q-${q.status}`} data-question={q.id}>
            <button
              type="button"
              className="upvote"
              aria-pressed={upvoted.has(q.id)}
              disabled={readOnly || upvoted.has(q.id)}
              aria-label={`Upvote: ${q.text}. ${q.upvotes} upvotes`}
              onClick={() => void upvote(q.id)}
            >
              ▲ <span className="upvotes">{q.upvotes}</span>
            </button>
            <div className="question-body">
              <p className="question-text">{q.text}</p>
              <p className="muted small">
                {q.anonymous ? 'Anonymous' : q.name} · {new Date(q.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
                {q.status !== 'open' ? <span className={`tag tag-${q.status}`}>{q.status === 'answered' ? 'Answered' : 'Dismissed'}</span> : null}
              </p>
              {isHost && !readOnly && q.status === 'open' ? (
                <div className="question-host">
                  <button type="button" className="link-btn" onClick={() => void act('qa.answer', { questionId: q.id })}>
                    Mark answered<span className="visually-hidden">: {q.text}</span>
                  </button>
                  <button type="button" className="link-btn danger" onClick={() => void act('qa.dismiss', { questionId: q.id })}>
                    Dismiss<span className="visually-hidden">: {q.text}</span>
                  </button>
                </div>
              ) : null}
            </div>
          </li>
        ))}
      </ul>
    </section>
  )
}
