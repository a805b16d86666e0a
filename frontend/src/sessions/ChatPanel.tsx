/** Chat: post, delete (own; hosts any), reactions, lock; new messages announced politely. */
import { useEffect, useRef, useState, type FormEvent } from 'react'
import type { RoomCtx } from './RoomPage'
import type { RoomView } from './model'

const MAX = 1000
const EMOJI = ['👍', '❤️', '🎉', '😂']

export function ChatPanel({ ctx, view }: { ctx: RoomCtx; view: RoomView }) {
  const { act, me, isHost, readOnly } = ctx
  const [text, setText] = useState('')
  const [announce, setAnnounce] = useState('')
  const lastSeen = useRef<string | null>(null)
  const list = useRef<HTMLOListElement>(null)
  const last = view.chat[view.chat.length - 1]
  const disabled = view.settings.chat === false
  const locked = view.chatLocked && !isHost
  const closed = readOnly || view.status !== 'live' || disabled || locked || ctx.role === 'viewer'

  useEffect(() => {
    // one polite announcement for the newest message by someone else, not one per message
    if (last && lastSeen.current !== null && last.id !== lastSeen.current && last.userId !== me) {
      setAnnounce(`${last.name}: ${last.text.slice(0, 140)}`)
    }
    lastSeen.current = last?.id ?? ''
    list.current?.lastElementChild?.scrollIntoView({ block: 'nearest' })
  }, [last, me])

  const send = async (event: FormEvent) => {
    event.preventDefault()
    const value = text.trim()
    if (!value) return
    const reply = await act('chat.post', { text: value })
    if (reply.ok) setText('')
  }

  return (
    <section className="panel panel-chat" aria-labelledby="chat-title">
      <h2 id="chat-title">
        Chat <span className="count">{view.chat.length}</span>
        {view.chatLocked ? <span className="tag">locked</span> : null}
      </h2>
      {isHost && !readOnly ? (
        <button type="button" className="btn btn-sm" onClick={() => void act('chat.lock', { locked: !view.chatLocked })}>
          {view.chatLocked ? 'Unlock chat' : 'Lock chat'}
        </button>
      ) : null}
      <div className="visually-hidden" aria-live="polite" aria-atomic="true">
        {announce}
      </div>
      <ol className="chat-list" ref={list} aria-label="Chat messages" tabIndex={0}>
        {view.chat.map((m) => {
          const reactions = view.reactions.get(m.id)
          return (
            <li key={m.id} className="chat-msg">
              <div className="chat-meta">
                <strong>{m.name}</strong>{' '}
                <time className="muted" dateTime={new Date(m.at).toISOString()}>
                  {new Date(m.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
                </time>
                {(m.userId === me || isHost) && !readOnly ? (
                  <button type="button" className="link-btn danger" onClick={() => void act('chat.delete', { messageId: m.id })}>
                    Delete<span className="visually-hidden"> message from {m.name}</span>
                  </button>
                ) : null}
              </div>
              <p className="chat-text">{m.text}</p>
              <div className="reactions" role="group" aria-label="Reactions">
                {EMOJI.map((emoji) => {
                  const users = reactions?.get(emoji) ?? []
                  const mine = users.includes(me)
                  if (readOnly && !users.length) return null
                  return (
                    <button
                      key={emoji}
                      type="button"
                      className={`react ${users.length ? 'react-on' : ''}`}
                      aria-pressed={mine}
                      aria-label={`React ${emoji}, ${users.length}`}
                      disabled={readOnly}
                      onClick={() => void act('chat.react', { messageId: m.id, emoji, on: !mine })}
                    >
                      {emoji} {users.length || ''}
                    </button>
                  )
                })}
              </div>
            </li>
          )
        })}
      </ol>
      {disabled ? <p className="muted">Chat is turned off for this session.</p> : null}
      {locked && !disabled ? <p className="muted">The host locked the chat.</p> : null}
      <form className="chat-form" onSubmit={(e) => void send(e)}>
        <label className="visually-hidden" htmlFor="chat-input">
          Message
        </label>
        <textarea
          id="chat-input"
          className="input"
          rows={2}
          maxLength={MAX}
          value={text}
          disabled={closed}
          placeholder={closed ? 'Chat is closed' : 'Write a message'}
          aria-describedby="chat-limit"
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault()
              e.currentTarget.form?.requestSubmit()
            }
          }}
        />
        <div className="chat-form-row">
          <span id="chat-limit" className="muted small">
            {text.length}/{MAX} · up to 5 quick messages, then one a second
          </span>
          <button className="btn btn-primary btn-sm" disabled={closed || !text.trim()}>
            Send
          </button>
        </div>
      </form>
    </section>
  )
}
