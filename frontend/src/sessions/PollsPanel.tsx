/** Polls: hosts create (single or multiple choice), open, close, publish; everyone votes. */
import { useEffect, useState, type FormEvent } from 'react'
import type { RoomCtx } from './RoomPage'
import type { Poll, RoomView, Tally } from './model'

function CreatePoll({ ctx }: { ctx: RoomCtx }) {
  const [question, setQuestion] = useState('')
  const [options, setOptions] = useState('')
  const [multiple, setMultiple] = useState(false)
  const list = options.split('\n').map((o) => o.trim()).filter(Boolean)
  const submit = async (event: FormEvent) => {
    event.preventDefault()
    const reply = await ctx.act('poll.create', { question: question.trim(), options: list, multiple })
    if (reply.ok) {
      setQuestion('')
      setOptions('')
      setMultiple(false)
    }
  }
  return (
    <form className="poll-create" onSubmit={(e) => void submit(e)} aria-label="Create a poll">
      <label>
        Poll question
        <input className="input" required maxLength={300} value={question} onChange={(e) => setQuestion(e.target.value)} />
      </label>
      <label>
        Options (one per line, 2 to 10)
        <textarea className="input" rows={3} value={options} onChange={(e) => setOptions(e.target.value)} />
      </label>
      <label className="check">
        <input type="checkbox" checked={multiple} onChange={(e) => setMultiple(e.target.checked)} /> Multiple choice
      </label>
      <button className="btn btn-primary btn-sm" disabled={list.length < 2 || list.length > 10 || !question.trim()}>
        Create poll
      </button>
    </form>
  )
}

function Results({ poll, tally, preview }: { poll: Poll; tally: Tally | undefined; preview?: number[] | null }) {
  const results = tally?.results ?? preview
  if (!results) return null
  const total = results.reduce((a, b) => a + b, 0)
  return (
    <ul className="poll-results" aria-label={`${tally?.results ? 'Results' : 'Live results, only hosts see them'}: ${poll.question}`}>
      {poll.options.map((option, i) => {
        const n = results[i] ?? 0
        const pct = total ? Math.round((n / total) * 100) : 0
        return (
          <li key={i} className="poll-result" data-option={i}>
            <span className="poll-result-label">
              {option} <span className="poll-count">{n === 1 ? '1 vote' : `${n} votes`}</span> ({pct}%)
            </span>
            <span className="bar" aria-hidden="true">
              <span className="bar-fill" style={{ width: `${pct}%` }} />
            </span>
          </li>
        )
      })}
    </ul>
  )
}

function PollCard({ ctx, poll, tally, mine, onVoted }: { ctx: RoomCtx; poll: Poll; tally: Tally | undefined; mine: number[] | undefined; onVoted: (c: number[]) => void }) {
  const { act, isHost, readOnly } = ctx
  const [choice, setChoice] = useState<number[]>(mine ?? [])
  // hosts may look at the live count before publishing (poll.results); attendees never get it
  const [preview, setPreview] = useState<number[] | null>(null)
  const peek = async () => {
    const reply = await act('poll.results', { pollId: poll.id })
    if (reply.ok) setPreview((reply.results as number[] | undefined) ?? null)
  }
  useEffect(() => setChoice(mine ?? []), [mine])
  const open = poll.status === 'open'
  const vote = async (event: FormEvent) => {
    event.preventDefault()
    const reply = await act('poll.vote', { pollId: poll.id, choices: choice })
    if (reply.ok) onVoted((reply.choices as number[] | undefined) ?? choice)
  }
  const name = `poll-${poll.id}`
  return (
    <li className="poll card" data-poll={poll.id} data-status={poll.status}>
      <div className="poll-head">
        <h3>{poll.question}</h3>
        <span className={`tag tag-${poll.status}`}>{poll.status === 'draft' ? 'Draft' : open ? 'Open' : 'Closed'}</span>
      </div>
      <p className="muted small">
        {poll.multiple ? 'Choose one or more' : 'Choose one'} · <span className="voters">{tally?.voters ?? 0} voted</span>
        {mine?.length ? ' · you voted' : ''}
      </p>
      {open && !readOnly ? (
        <form onSubmit={(e) => void vote(e)}>
          <fieldset className="poll-options">
            <legend className="visually-hidden">{poll.question}</legend>
            {poll.options.map((option, i) => (
              <label key={i} className="check">
                <input
                  type={poll.multiple ? 'checkbox' : 'radio'}
                  name={name}
                  checked={choice.includes(i)}
                  onChange={(e) =>
                    setChoice(poll.multiple ? (e.target.checked ? [...choice, i].sort() : choice.filter((c) => c !== i)) : [i])
                  }
                />{' '}
                {option}
              </label>
            ))}
          </fieldset>
          <button className="btn btn-primary btn-sm" disabled={!choice.length}>
            {mine?.length ? 'Change vote' : 'Vote'}
          </button>
        </form>
      ) : null}
      <Results poll={poll} tally={tally} preview={isHost && !poll.published ? preview : null} />
      {isHost && !poll.published && preview ? <p className="muted small">Only hosts see these counts until you publish.</p> : null}
      {isHost && !readOnly ? (
        <div className="poll-host">
          {poll.status === 'draft' ? (
            <button type="button" className="btn btn-sm" onClick={() => void act('poll.open', { pollId: poll.id })}>
              Open poll
            </button>
          ) : null}
          {open ? (
            <button type="button" className="btn btn-sm" onClick={() => void act('poll.close', { pollId: poll.id })}>
              Close poll
            </button>
          ) : null}
          {poll.status !== 'draft' && !poll.published ? (
            <button type="button" className="btn btn-sm" onClick={() => void peek()}>
              {preview ? 'Refresh count' : 'Peek at count'}
            </button>
          ) : null}
          {poll.status !== 'draft' ? (
            <button type="button" className="btn btn-sm" onClick={() => void act('poll.publish', { pollId: poll.id, published: !poll.published })}>
              {poll.published ? 'Hide results' : 'Publish results'}
            </button>
          ) : null}
        </div>
      ) : null}
    </li>
  )
}

export function PollsPanel({ ctx, view }: { ctx: RoomCtx; view: RoomView }) {
  const [mine, setMine] = useState<Record<string, number[]>>({})
  const live = ctx.room.conn.status === 'live'
  useEffect(() => {
    // after every (re)connect: which options did I pick (votes are not in the room document)
    if (!live) return // (answered after the end too: an ended room still shows my votes)
    void ctx.act('poll.mine').then((reply) => {
      if (reply.ok) setMine((reply.votes as Record<string, number[]> | undefined) ?? {})
    })
  }, [live, ctx.act])
  const polls = ctx.isHost ? view.polls : view.polls.filter((p) => p.status !== 'draft')
  return (
    <section className="panel panel-polls" aria-labelledby="polls-title">
      <h2 id="polls-title">
        Polls <span className="count">{polls.length}</span>
      </h2>
      {ctx.isHost && !ctx.readOnly ? <CreatePoll ctx={ctx} /> : null}
      {polls.length === 0 ? <p className="muted">No polls yet.</p> : null}
      <ul className="polls">
        {polls.map((poll) => (
          <PollCard
            key={poll.id}
            ctx={ctx}
            poll={poll}
            tally={view.tallies.get(poll.id)}
            mine={mine[poll.id]}
            onVoted={(choices) => setMine((m) => ({ ...m, [poll.id]: choices }))}
          />
        ))}
      </ul>
    </section>
  )
}
