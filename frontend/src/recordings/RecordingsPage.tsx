/**
 * `/recordings`: record from the microphone or upload audio (drag and drop or a file picker,
 * with a progress bar), the list
 * with status, duration and format, a player with the transcript beside it (the current line
 * highlighted as it plays, a click on a line seeks there, lines can be corrected, the whole
 * copied into a note), and search across transcripts whose hits play the audio from the moment
 * the word was said (`?r=<id>&t=<seconds>`, also the notes search's links). Status comes from
 * the user feed (`recordings.changed`): nothing is polled.
 */
import { useEffect, useRef, useState } from 'react'
import { useNavigate, useSearchParams } from 'react-router'
import { useQueryClient } from '@tanstack/react-query'
import {
  audioUrl,
  copyToNote,
  correct,
  deleteRecording,
  recordingKeys,
  transcribe,
  useRecording,
  useRecordings,
  useTranscript,
  useTranscriptSearch,
  type Recording,
  type Transcript,
} from '../api/recordings'
import { describe } from '../api/client'
import { UserFeed } from '../collab/userFeed'
import { useUser } from '../lib/useSession'
import { clear } from '../lib/session'
import { toast } from '../ui/toast'
import { clock } from './clock'
import { Uploader } from './Uploader'
import './recordings.css'

const STATUS: Record<string, string> = {
  uploaded: 'Not transcribed',
  processing: 'Transcribing…',
  transcribed: 'Transcribed',
  failed: 'Transcription failed',
}


function TranscriptView({
  recording,
  transcript,
  current,
  onSeek,
}: {
  recording: Recording
  transcript: Transcript | null | undefined
  current: number
  onSeek: (seconds: number) => void
}) {
  const client = useQueryClient()
  const [editing, setEditing] = useState<number | null>(null)
  const [draft, setDraft] = useState('')
  if (transcript === undefined) return <p className="muted">Loading the transcript…</p>
  if (transcript === null || recording.status === 'uploaded') {
    return (
      <div className="rec-empty">
        <p className="muted">No transcript yet.</p>
        <button
          className="btn"
          onClick={() =>
            void transcribe(recording.id).then(
              () => client.invalidateQueries({ queryKey: recordingKeys.all }),
              (err: unknown) => toast(describe(err), 'error'),
            )
          }
        >
          Transcribe
        </button>
      </div>
    )
  }
  if (transcript.status === 'processing') return <p role="status">Transcribing… the text appears here when it is ready.</p>
  if (transcript.status === 'failed') {
    return (
      <div className="rec-empty" role="alert">
        <p>The transcription failed: {transcript.error}</p>
        <button
          className="btn"
          onClick={() =>
            void transcribe(recording.id).then(
              () => client.invalidateQueries({ queryKey: recordingKeys.all }),
              (err: unknown) => toast(describe(err), 'error'),
            )
          }
        >
          Try again
        </button>
      </div>
    )
  }
  const save = async (position: number) => {
    try {
      const updated = await correct(recording.id, position, draft)
      client.setQueryData(recordingKeys.transcript(recording.id), updated)
      setEditing(null)
    } catch (err) {
      toast(describe(err), 'error')
    }
  }
  return (
    <ol className="rec-lines" aria-label="Transcript">
      {transcript.segments.map((segment) => {
        const active = current >= segment.start && current < segment.end
        return (
          <li key={segment.position} className={active ? 'active' : undefined} aria-current={active ? 'true' : undefined}>
            <button className="rec-time" onClick={() => onSeek(segment.start)} aria-label={`Play from ${clock(segment.start)}`}>
              {clock(segment.start)}
            </button>
            {editing === segment.position ? (
              <form
                className="rec-edit"
                onSubmit={(e) => {
                  e.preventDefault()
                  void save(segment.position)
                }}
              >
                <input value={draft} onChange={(e) => setDraft(e.target.value)} aria-label="Corrected text" autoFocus />
                <button className="btn" type="submit">
                  Save
                </button>
                <button className="btn" type="button" onClick={() => setEditing(null)}>
                  Cancel
                </button>
              </form>
            ) : (
              <>
                <span className="rec-text" onClick={() => onSeek(segment.start)}>
                  {segment.text}
                </span>
                <button
                  className="rec-fix"
                  onClick={() => {
                    setEditing(segment.position)
                    setDraft(segment.text)
                  }}
                  aria-label={`Edit the line at ${clock(segment.start)}`}
                >
                  Edit
                </button>
              </>
            )}
          </li>
        )
      })}
    </ol>
  )
}

export default function RecordingsPage() {
  const user = useUser()
  const client = useQueryClient()
  const navigate = useNavigate()
  const [params, setParams] = useSearchParams()
  const selected = params.get('r')
  const startAt = Number(params.get('t') ?? '0')
  const [query, setQuery] = useState(params.get('q') ?? '')
  const [typed, setTyped] = useState(params.get('q') ?? '')
  const recordings = useRecordings()
  const list = recordings.data?.recordings ?? []
  const listed = list.find((r) => r.id === selected)
  // a link to an older recording than the list holds (a moment found by the notes search)
  const single = useRecording(selected, recordings.isSuccess && !listed)
  const recording = listed ?? single.data ?? null
  const transcript = useTranscript(selected, recording !== null)
  const hits = useTranscriptSearch(query)
  const player = useRef<HTMLAudioElement>(null)
  const [src, setSrc] = useState<string | null>(null)
  const [current, setCurrent] = useState(0)
  const [copying, setCopying] = useState(false)

  useEffect(() => {
    document.title = 'Recordings · Workbook'
  }, [])

  useEffect(() => {
    const timer = setTimeout(() => setQuery(typed.trim()), 250)
    return () => clearTimeout(timer)
  }, [typed])

  useEffect(() => {
    if (!user) return
    const feed = new UserFeed(user.id, {
      onRecording: () => void client.invalidateQueries({ queryKey: recordingKeys.all }, { cancelRefetch: false }),
      onConnect: () => void client.invalidateQueries({ queryKey: recordingKeys.all }, { cancelRefetch: false }),
      onSignedOut: (message) => {
        toast(message, 'error')
        clear()
        navigate('/login', { replace: true })
      },
    })
    void feed.connect()
    return () => feed.destroy()
  }, [user, client, navigate])

  useEffect(() => {
    if (!recording) return
    let url: string | null = null
    let cancelled = false
    void audioUrl(recording.id).then(
      (made) => {
        if (cancelled) URL.revokeObjectURL(made)
        else setSrc((url = made))
      },
      (err: unknown) => toast(describe(err), 'error'),
    )
    return () => {
      cancelled = true
      setSrc(null)
      if (url) URL.revokeObjectURL(url)
    }
  }, [recording?.id]) // only a different recording needs another file

  const detail = useRef<HTMLElement>(null)
  // At phone width the player is below the list: bring it up, or the user hears it unseen.
  const reveal = () =>
    requestAnimationFrame(() => {
      const top = detail.current?.getBoundingClientRect().top
      if (top !== undefined && (top < 0 || top > window.innerHeight * 0.6)) {
        detail.current?.scrollIntoView({ block: 'start' })
      }
    })
  const open = (id: string, at = 0) => {
    setParams(at ? { r: id, t: String(at) } : { r: id })
    reveal()
  }
  useEffect(() => {
    if (recording && startAt) reveal() // opened from a link to a moment (the notes search)
  }, [recording?.id]) // once per recording opened
  const seek = (seconds: number) => {
    const audio = player.current
    if (!audio) return
    audio.currentTime = seconds
    void audio.play().catch(() => undefined) // autoplay may be refused: the position is set
  }

  // A search hit in the recording already open: its file is loaded, so seek now (a newly
  // opened recording seeks once its metadata is in, below).
  useEffect(() => {
    if (src && startAt && player.current && player.current.readyState >= 1) seek(startAt)
  }, [src, startAt])

  return (
    <main className="area-page recordings" id="main">
      <div className="rec-inner">
      <h1>Recordings</h1>
      <Uploader
        onUploaded={(id) => {
          void client.invalidateQueries({ queryKey: recordingKeys.all })
          open(id)
        }}
      />
      <div className="rec-search">
        <input
          type="search"
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
          placeholder="Search what was said"
          aria-label="Search transcripts"
        />
        {query && !hits.data && (hits.isError || hits.isPaused) ? (
          <p className="rec-hits muted" role="status">
            {navigator.onLine ? describe(hits.error) : 'You are offline: searching needs the server.'}
          </p>
        ) : null}
        {query && hits.data ? (
          <ul className="rec-hits" aria-label="Search results">
            {hits.data.hits.length === 0 ? <li className="muted">Nothing found.</li> : null}
            {hits.data.hits.map((hit) => (
              <li key={`${hit.transcriptionId}-${hit.position}`}>
                <button onClick={() => open(hit.recordingId, hit.start)}>
                  <strong>{hit.recordingTitle}</strong> at {clock(hit.start)}:{' '}
                  {/* the server escapes the text; only its <mark> elements are markup */}
                  <span dangerouslySetInnerHTML={{ __html: hit.snippet ?? hit.text }} />
                </button>
              </li>
            ))}
          </ul>
        ) : null}
      </div>
      <div className="rec-layout">
        <ul className="rec-list" aria-label="My recordings">
          {recordings.isPending ? <li className="muted">Loading…</li> : null}
          {!recordings.isPending && list.length === 0 ? <li className="muted">No recordings yet.</li> : null}
          {list.map((r) => (
            <li key={r.id} className={r.id === selected ? 'selected' : undefined}>
              <button onClick={() => open(r.id)} aria-current={r.id === selected ? 'true' : undefined}>
                <span className="rec-title">{r.title}</span>
                <span className="muted">
                  {clock(r.durationSeconds)} · {r.format ? `${r.format} · ` : ''}<span className={`rec-status ${r.status}`}>{STATUS[r.status] ?? r.status}</span>
                </span>
              </button>
            </li>
          ))}
        </ul>
        <section className="rec-detail" aria-label="Recording" ref={detail}>
          {recording ? (
            <>
              <div className="rec-head">
                <h2>{recording.title}</h2>
                {transcript.data?.status === 'done' ? (
                  <button
                    className="btn"
                    disabled={copying}
                    onClick={() => {
                      setCopying(true)
                      void copyToNote(recording.id).then(
                        (note) => {
                          void client.invalidateQueries({ queryKey: ['notes'] })
                          navigate(`/notes/${note.id}`)
                        },
                        (err: unknown) => {
                          setCopying(false)
                          toast(describe(err), 'error')
                        },
                      )
                    }}
                  >
                    {copying ? 'Copying…' : 'Copy to a note'}
                  </button>
                ) : null}
                <button
                  className="btn"
                  onClick={() =>
                    void deleteRecording(recording.id).then(
                      () => {
                        setParams({})
                        void client.invalidateQueries({ queryKey: recordingKeys.all })
                      },
                      (err: unknown) => toast(describe(err), 'error'),
                    )
                  }
                >
                  Delete
                </button>
              </div>
              <audio
                ref={player}
                src={src ?? undefined}
                controls
                onLoadedMetadata={() => {
                  if (startAt && player.current) seek(startAt)
                }}
                onTimeUpdate={() => setCurrent(player.current?.currentTime ?? 0)}
              />
              <TranscriptView recording={recording} transcript={transcript.data} current={current} onSeek={seek} />
            </>
          ) : (
            <p className="muted">
              {selected && single.data === null ? 'This recording no longer exists. ' : ''}Choose a recording, or upload one.
            </p>
          )}
        </section>
      </div>
      </div>
    </main>
  )
}
