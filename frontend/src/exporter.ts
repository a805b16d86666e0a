/** Export downloads (`GET /api/workbook/notes/{id}/export?format=md|json|pdf`), polling large jobs. */
import { api, type Note } from './api'
import { toast } from './dom'

export type ExportFormat = 'md' | 'json' | 'pdf'

const EXT: Record<ExportFormat, string> = { md: 'md', json: 'json', pdf: 'pdf' }

function filenameFrom(response: Response, note: Note, format: ExportFormat): string {
  const disposition = response.headers.get('Content-Disposition') ?? ''
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition)
  if (star) return decodeURIComponent(star[1])
  const plain = /filename="?([^";]+)"?/i.exec(disposition)
  if (plain) return plain[1]
  const base = note.title.replace(/[^\p{L}\p{N} _-]+/gu, '').trim().replace(/\s+/g, '-') || 'note'
  return `${base}.${EXT[format]}`
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

interface ExportJob {
  jobId?: string
  id?: string
  status?: string
  statusUrl?: string
  downloadUrl?: string
  url?: string
}

async function waitForJob(job: ExportJob): Promise<string> {
  const statusUrl = job.statusUrl ?? (job.jobId || job.id ? `/api/jobs/${job.jobId ?? job.id}` : null)
  const deadline = Date.now() + 120_000
  let current = job
  while (!(current.downloadUrl ?? (current.status === 'done' ? current.url : undefined))) {
    if (!statusUrl || Date.now() > deadline) throw new Error('The export did not finish in time')
    if (current.status === 'failed') throw new Error('The export failed')
    await new Promise((r) => setTimeout(r, 1000))
    current = await api<ExportJob>(statusUrl)
  }
  return (current.downloadUrl ?? current.url) as string
}

export async function exportNote(note: Note, format: ExportFormat): Promise<void> {
  const path = `/api/workbook/notes/${note.id}/export`
  let response = await api<Response>(path, { query: { format }, raw: true })
  if (response.status === 202) {
    toast('Preparing a large export…')
    const url = await waitForJob((await response.json()) as ExportJob)
    response = await api<Response>(url, { raw: true })
  }
  save(await response.blob(), filenameFrom(response, note, format))
}
