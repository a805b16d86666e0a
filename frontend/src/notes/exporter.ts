/** Export downloads (`GET /api/workbook/notes/{id}/export?format=md|json|pdf`), polling large jobs. */
import { authedFetch } from '../api/client'
import { apiError, type Schemas } from '../api/http'
import { toast } from '../ui/toast'

export type ExportFormat = 'md' | 'json' | 'pdf'
type ExportJob = Schemas['ExportJob']

function filenameFrom(response: Response, title: string, format: ExportFormat): string {
  const disposition = response.headers.get('Content-Disposition') ?? ''
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition)
  if (star?.[1]) return decodeURIComponent(star[1])
  const plain = /filename="?([^";]+)"?/i.exec(disposition)
  if (plain?.[1]) return plain[1]
  const base = title.replace(/[^\p{L}\p{N} _-]+/gu, '').trim().replace(/\s+/g, '-') || 'note'
  return `${base}.${format}`
}

function save(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

/** A download is a file, not JSON: fetched raw, with the session's token. */
async function get(url: string): Promise<Response> {
  const response = await authedFetch(new Request(url, { credentials: 'same-origin' }))
  if (!response.ok) throw apiError(response, await response.json().catch(() => undefined))
  return response
}

/** A large export runs as a job: follow its status URL until it has a download URL. */
async function waitForJob(job: ExportJob): Promise<string> {
  const deadline = Date.now() + 120_000
  let current = job
  while (!current.downloadUrl) {
    if (current.status === 'failed') throw new Error('The export failed')
    if (Date.now() > deadline) throw new Error('The export did not finish in time')
    await new Promise((r) => setTimeout(r, 1000))
    current = (await (await get(current.statusUrl)).json()) as ExportJob
  }
  return current.downloadUrl
}

export async function exportNote(noteId: string, title: string, format: ExportFormat): Promise<void> {
  let response = await get(`/api/workbook/notes/${encodeURIComponent(noteId)}/export?format=${format}`)
  if (response.status === 202) {
    toast('Preparing a large export…')
    response = await get(await waitForJob((await response.json()) as ExportJob))
  }
  save(await response.blob(), filenameFrom(response, title, format))
}
