/**
 * Record from the microphone: MediaRecorder in 1-second chunks, a level meter, pause and
 * resume; on stop the recording is uploaded (and transcribed) like a chosen file. A missing or
 * refused microphone is said in words.
 */
import { useEffect, useRef, useState } from 'react'

type State = 'idle' | 'recording' | 'paused'

function problem(err: unknown): string {
  const name = err instanceof DOMException ? err.name : ''
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return 'Microphone access was refused. Allow it in the browser’s site settings, then try again.'
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No microphone was found on this device.'
  if (name === 'NotReadableError') return 'The microphone is in use by another application.'
  return 'The microphone could not be started.'
}

export function Recorder({ onRecorded }: { onRecorded: (blob: Blob, name: string) => void }) {
  const [state, setState] = useState<State>('idle')
  const [level, setLevel] = useState(0)
  const [seconds, setSeconds] = useState(0)
  const [error, setError] = useState<string | null>(null)
  const recorder = useRef<MediaRecorder | null>(null)
  const stopAll = useRef<() => void>(() => undefined)

  useEffect(() => () => stopAll.current(), [])

  const start = async () => {
    setError(null)
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === 'undefined') {
      setError('This browser cannot record audio; upload a file instead.')
      return
    }
    let stream: MediaStream
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } })
    } catch (err) {
      setError(problem(err))
      return
    }
    const context = new AudioContext()
    const analyser = context.createAnalyser()
    analyser.fftSize = 512
    context.createMediaStreamSource(stream).connect(analyser)
    const samples = new Float32Array(analyser.fftSize)
    let frame = 0
    const meter = () => {
      analyser.getFloatTimeDomainData(samples)
      let sum = 0
      for (const s of samples) sum += s * s
      setLevel(Math.min(1, Math.sqrt(sum / samples.length) * 4))
      frame = requestAnimationFrame(meter)
    }
    frame = requestAnimationFrame(meter)
    const chunks: Blob[] = []
    const media = new MediaRecorder(stream)
    const ticker = setInterval(() => {
      if (media.state === 'recording') setSeconds((n) => n + 1)
    }, 1000)
    stopAll.current = () => {
      cancelAnimationFrame(frame)
      clearInterval(ticker)
      for (const track of stream.getTracks()) track.stop()
      // runs on stop and again on unmount: a closed context must not be closed twice
      if (context.state !== 'closed') void context.close().catch(() => undefined)
      stopAll.current = () => undefined
    }
    media.ondataavailable = (event) => {
      if (event.data.size) chunks.push(event.data)
    }
    media.onstop = () => {
      stopAll.current()
      setState('idle')
      setLevel(0)
      const type = media.mimeType || 'audio/webm'
      const ext = type.includes('ogg') ? 'ogg' : type.includes('mp4') ? 'm4a' : 'webm'
      if (chunks.length) onRecorded(new Blob(chunks, { type }), `recording-${new Date().toISOString().slice(0, 19)}.${ext}`)
    }
    recorder.current = media
    setSeconds(0)
    media.start(1000) // 1-second chunks: a crash loses at most the last second
    setState('recording')
  }

  const clock = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`
  return (
    <div className="rec-recorder" role="group" aria-label="Record from the microphone">
      {state === 'idle' ? (
        <button className="btn" type="button" onClick={() => void start()}>
          Record
        </button>
      ) : (
        <>
          {state === 'recording' ? (
            <button className="btn" type="button" onClick={() => (recorder.current?.pause(), setState('paused'))}>
              Pause
            </button>
          ) : (
            <button className="btn" type="button" onClick={() => (recorder.current?.resume(), setState('recording'))}>
              Resume
            </button>
          )}
          <button className="btn btn-primary" type="button" onClick={() => recorder.current?.stop()}>
            Stop and upload
          </button>
          <span className="rec-clock" aria-live="off">
            {clock}
          </span>
          <meter className="rec-level" min={0} max={1} value={level} aria-label="Microphone level" />
          <span className="muted">{state === 'paused' ? 'Paused' : 'Recording…'}</span>
        </>
      )}
      {error ? (
        <p className="rec-error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  )
}
