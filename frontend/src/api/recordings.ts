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

/**
 * Upload with progress (fetch reports none): multipart `audio`, `title`, `transcribe`.
 * Resolves with the created recording; rejects with the server's message.
 */
export async function upload(
  file: Blob,
  fileName: string,
  title: string,
  transcribeNow: boolean,
  onProgress: (fraction: number) => void,
): Promise<Schemas['RecordingEnvelope']> {
  const token = await freshToken()
  const form = new FormData()
  form.append('title', title)
  form.append('transcribe', transcribeNow ? 'true' : 'false')
  form.append('audio', file, fileName)
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', '/api/workbook/audio')
    xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total)
    }
    xhr.onload = () => {
      let body: unknown = null
      try {
        body = JSON.parse(xhr.responseText)
      } catch {
        // not JSON: reported below
      }
      if (xhr.status === 201 && body) resolve(body as Schemas['RecordingEnvelope'])
      else {
        const error = (body as { error?: { message?: string } } | null)?.error
        reject(new Error(error?.message ?? `upload failed (HTTP ${xhr.status})`))
      }
    }
    xhr.onerror = () => reject(new Error('the server could not be reached'))
    xhr.send(form)
  })
}
