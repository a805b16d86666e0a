/**
 * Recordings and transcripts through TanStack Query. Nothing is polled: the list and a
 * transcript are refetched when the user feed says a transcription changed status
 * (`recordings.changed`) and after the page's own changes.
 */
import { useQuery } from '@tanstack/react-query'
import { freshToken } from '../lib/session'
import { api, must, type Schemas } from './client'

export type Recording = Schemas['RecordingOut']
export type Transcript = Schemas['TranscriptOut']
export type TranscriptHit = Schemas['TranscriptHit']

export const recordingKeys = {
  all: ['recordings'] as const,
  list: ['recordings', 'list'] as const,
  transcript: (id: string) => ['recordings', 'transcript', id] as const,
  search: (q: string) => ['recordings', 'search', q] as const,
}

export function useRecordings() {
  return useQuery({
    queryKey: recordingKeys.list,
    queryFn: async ({ signal }) => must(await api.GET('/api/workbook/audio', { params: { query: { limit: 100 } }, signal })),
    staleTime: 0,
  })
}

/** One recording, for a link to one the list does not hold (it shows the newest 100). */
export function useRecording(id: string | null, enabled: boolean) {
  return useQuery({
    queryKey: ['recordings', 'one', id ?? ''] as const,
    enabled: Boolean(id) && enabled,
    queryFn: async ({ signal }) => {
      const result = await api.GET('/api/workbook/audio/{id}', { params: { path: { id: id! } }, signal })
      if (result.response.status === 404 || result.response.status === 422) return null
      return must(result).recording
    },
  })
}

export function useTranscript(id: string | null, enabled: boolean) {
  return useQuery({
    queryKey: recordingKeys.transcript(id ?? ''),
    enabled: Boolean(id) && enabled,
    queryFn: async ({ signal }) => {
      const result = await api.GET('/api/workbook/audio/{id}/transcript', { params: { path: { id: id! } }, signal })
      if (result.response.status === 404) return null
      return must(result).transcript
    },
    staleTime: 0,
  })
}

export function useTranscriptSearch(q: string) {
  return useQuery({
    queryKey: recordingKeys.search(q),
    enabled: q.trim().length > 0,
    queryFn: async ({ signal }) => must(await api.GET('/api/workbook/audio/search', { params: { query: { q, limit: 50 } }, signal })),
  })
}

export async function transcribe(recordingId: string): Promise<Schemas['TranscribeStarted']> {
  return must(await api.POST('/api/workbook/audio/transcribe', { body: { recordingId } }))
}

export async function correct(id: string, position: number, text: string): Promise<Transcript> {
  return must(
    await api.PATCH('/api/workbook/audio/{id}/transcript', { params: { path: { id } }, body: { segments: [{ position, text }] } }),
  ).transcript
}

/** The transcript, one `[m:ss] text` line a segment, as a new note (or appended to `noteId`). */
export async function copyToNote(id: string, noteId?: string): Promise<Schemas['NoteOut']> {
  return must(
    await api.POST('/api/workbook/audio/{id}/transcript/note', {
      params: { path: { id } },
      body: noteId ? { noteId } : {},
    }),
  ).note
}

export async function deleteRecording(id: string): Promise<void> {
  must(await api.DELETE('/api/workbook/audio/{id}', { params: { path: { id } } }))
}

/** The recording's bytes as an object URL for the player (the file route needs the token). */
export async function audioUrl(id: string): Promise<string> {
  const result = await api.GET('/api/workbook/audio/{id}/file', { params: { path: { id } }, parseAs: 'blob' })
  return URL.createObjectURL(must(result) as Blob)
}

export function useUploadOptions() {
  return useQuery({
    queryKey: ['upload-options'] as const, // not under `recordings`: never refetched by the feed
    queryFn: async ({ signal }) => must(await api.GET('/api/workbook/audio/uploads', { signal })),
    staleTime: Infinity,
  })
}

type Envelope = Schemas['RecordingEnvelope']

/** One XHR (fetch reports no upload progress) that resolves with its status and JSON body. */
function send(
  url: string,
  body: FormData,
  onProgress: (fraction: number) => void,
  token?: string,
): Promise<{ status: number; body: unknown; text: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', url)
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total)
    }
    xhr.onload = () => {
      let parsed: unknown = null
      try {
        parsed = JSON.parse(xhr.responseText)
      } catch {
        // not JSON (S3 answers XML or nothing): the status says enough
      }
      resolve({ status: xhr.status, body: parsed, text: xhr.responseText })
    }
    xhr.onerror = () => reject(new Error(navigator.onLine ? 'the server could not be reached' : 'you are offline: upload again when you are back online'))
    xhr.onabort = () => reject(new Error('the upload was cancelled'))
    xhr.send(body)
  })
}

function failure(status: number, body: unknown): Error {
  const error = (body as { error?: { message?: string } } | null)?.error
  return new Error(error?.message ?? `upload failed (HTTP ${status})`)
}

/**
 * Upload with progress. Where the server says S3 is configured (`options.direct`) the file goes
 * straight to the bucket with a presigned POST, then the server checks it (`complete`);
 * otherwise it is sent as multipart/form-data (`audio`, `title`, `transcribe`). Resolves with
 * the created recording; rejects with the server's message.
 */
export async function upload(
  file: Blob,
  fileName: string,
  title: string,
  transcribeNow: boolean,
  onProgress: (fraction: number) => void,
  options?: Schemas['UploadOptions'],
): Promise<Envelope> {
  if (options && file.size > options.maxBytes) {
    throw new Error(`the file is larger than ${Math.floor(options.maxBytes / 2 ** 20)} MB`)
  }
  if (options?.direct) return uploadDirect(file, fileName, title, transcribeNow, onProgress)
  const form = new FormData()
  form.append('title', title)
  form.append('transcribe', transcribeNow ? 'true' : 'false')
  form.append('audio', file, fileName)
  const sent = await send('/api/workbook/audio', form, onProgress, await freshToken())
  if (sent.status === 201 && sent.body) return sent.body as Envelope
  throw failure(sent.status, sent.body)
}

async function uploadDirect(
  file: Blob,
  fileName: string,
  title: string,
  transcribeNow: boolean,
  onProgress: (fraction: number) => void,
): Promise<Envelope> {
  const declared = file.type.split(';')[0] ?? ''
  const contentType = /^[a-z]+\/[a-z0-9.+-]+$/.test(declared) ? declared : 'application/octet-stream'
  const started = must(await api.POST('/api/workbook/audio/uploads', { body: { size: file.size, contentType } }))
  const form = new FormData()
  for (const [name, value] of Object.entries(started.fields)) form.append(name, value)
  form.append('file', file, fileName)
  const sent = await send(started.url, form, (f) => onProgress(f * 0.98), undefined)
  if (sent.status < 200 || sent.status >= 300) {
    throw new Error(/EntityTooLarge/.test(sent.text) ? 'the file is too large' : `the storage refused the upload (HTTP ${sent.status})`)
  }
  const done = must(
    await api.POST('/api/workbook/audio/uploads/{id}/complete', {
      params: { path: { id: started.uploadId } },
      body: { title, fileName, transcribe: transcribeNow },
    }),
  )
  onProgress(1)
  return done
}
