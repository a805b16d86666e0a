/**
 * Record from the microphone or choose / drop a file, then upload it with a progress bar:
 * straight to S3 when the server says so, else as a form (`api/recordings.ts: upload`). A
 * recording whose upload fails stays as the chosen file, so nothing recorded is lost.
 */
import { useState, type DragEvent, type FormEvent } from 'react'
import { upload, useUploadOptions } from '../api/recordings'
import { toast } from '../ui/toast'
import { Recorder } from './Recorder'

export function Uploader({ onUploaded }: { onUploaded: (id: string) => void }) {
  const [file, setFile] = useState<File | null>(null)
  const [title, setTitle] = useState('')
  const [now, setNow] = useState(true)
  const [progress, setProgress] = useState<number | null>(null)
  const [dragging, setDragging] = useState(false)
  const [picker, setPicker] = useState(0) // a new key empties the native file input
  const options = useUploadOptions().data
  const maxMb = Math.floor((options?.maxBytes ?? 100 * 2 ** 20) / 2 ** 20)

  const pick = (picked: File | undefined) => {
    if (!picked) return
    setFile(picked)
    if (!title) setTitle(picked.name.replace(/\.[^.]+$/, ''))
  }
  const drop = (event: DragEvent<HTMLLabelElement>) => {
    event.preventDefault()
    setDragging(false)
    pick(event.dataTransfer.files[0])
  }
  const send = async (blob: Blob, name: string, named: string) => {
    setProgress(0)
    try {
      const created = await upload(blob, name, named, now, setProgress, options)
      setFile(null)
      setTitle('')
      setPicker((n) => n + 1)
      onUploaded(created.recording.id)
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      toast(message.charAt(0).toUpperCase() + message.slice(1), 'error')
      // A recording made on the page exists nowhere else: keep it, ready to upload again.
      if (!(blob instanceof File)) {
        setFile(new File([blob], name, { type: blob.type }))
        setTitle((t) => t || named)
      }
    } finally {
      setProgress(null)
    }
  }
  const submit = async (event: FormEvent) => {
    event.preventDefault()
    if (file) await send(file, file.name, title.trim() || file.name)
  }
  return (
    <form className="rec-upload" onSubmit={(e) => void submit(e)} aria-label="Upload a recording">
      <Recorder onRecorded={(blob, name) => void send(blob, name, title.trim() || `Recording ${new Date().toLocaleString()}`)} />
      <label
        className={`rec-drop${dragging ? ' dragging' : ''}`}
        onDragOver={(e) => {
          e.preventDefault()
          setDragging(true)
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={drop}
      >
        <input key={picker} type="file" accept="audio/*,.mp3,.wav,.m4a,.webm,.ogg" onChange={(e) => pick(e.target.files?.[0])} />
        <span>{file ? file.name : `Drop an audio file here or choose one (MP3, WAV, M4A, WebM, Ogg; up to ${maxMb} MB)`}</span>
      </label>
      <label className="rec-field">
        Title
        <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={255} required={Boolean(file)} />
      </label>
      <label className="rec-check">
        <input type="checkbox" checked={now} onChange={(e) => setNow(e.target.checked)} /> Transcribe it now
      </label>
      <button className="btn btn-primary" type="submit" disabled={!file || progress !== null}>
        Upload
      </button>
      {progress !== null ? <progress value={progress} max={1} aria-label="Upload progress" /> : null}
    </form>
  )
}
