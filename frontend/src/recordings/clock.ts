/** A time in a recording as the player shows it: `m:ss`, `h:mm:ss` from an hour on. */
export function clock(seconds: number | null | undefined): string {
  if (seconds == null) return '–'
  const s = Math.max(0, Math.floor(seconds))
  const h = Math.floor(s / 3600)
  const mm = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, '0')
  return h ? `${h}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`
}

/** Where a transcript moment is opened: the recordings page plays it from `start`. */
export function momentLink(recordingId: string, start: number): string {
  const params = new URLSearchParams({ r: recordingId })
  if (start > 0) params.set('t', String(start))
  return `/recordings?${params}`
}
