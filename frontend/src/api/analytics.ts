/**
 * Admin analytics server state: one query per dataset and date range, and the CSV export
 * (fetched with the session's token, then saved as a file by the browser).
 */
import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query'
import { api, ApiError, apiError, authedFetch, must, type Schemas } from './client'

export type Overview = Schemas['AnalyticsOverview']
export type ModuleStats = Schemas['AnalyticsModule']
export type LessonStats = Schemas['AnalyticsLesson']
export type SessionStats = Schemas['AnalyticsSession']
export type Recordings = Schemas['AnalyticsRecordings']
export type Dataset = 'overview' | 'modules' | 'lessons' | 'sessions' | 'recordings'
export interface DateRange {
  from: string
  to: string
}

const noRetryOn4xx = (count: number, err: unknown) => !(err instanceof ApiError && err.status < 500) && count < 2

function options<T>(name: Dataset, range: DateRange, fetcher: (signal: AbortSignal) => Promise<T>) {
  return queryOptions({
    queryKey: ['analytics', name, range.from, range.to],
    queryFn: ({ signal }) => fetcher(signal),
    placeholderData: keepPreviousData,
    retry: noRetryOn4xx,
  })
}

/** One dataset as JSON (the operations also answer CSV, so the generated type is a union). */
async function fetchJson<T>(name: Dataset, range: DateRange, signal: AbortSignal): Promise<T> {
  const path = `/api/admin/analytics/${name}` as '/api/admin/analytics/overview'
  return must(await api.GET(path, { params: { query: range }, signal, parseAs: 'json' })) as unknown as T
}

export function useOverview(range: DateRange) {
  return useQuery(options('overview', range, (signal) => fetchJson<Overview>('overview', range, signal)))
}

export function useModuleStats(range: DateRange) {
  return useQuery(
    options('modules', range, async (signal) => (await fetchJson<Schemas['AnalyticsModules']>('modules', range, signal)).modules),
  )
}

export function useLessonStats(range: DateRange) {
  return useQuery(
    options('lessons', range, async (signal) => (await fetchJson<Schemas['AnalyticsLessons']>('lessons', range, signal)).lessons),
  )
}

export function useSessionStats(range: DateRange) {
  return useQuery(
    options('sessions', range, async (signal) => (await fetchJson<Schemas['AnalyticsSessions']>('sessions', range, signal)).sessions),
  )
}

export function useRecordingStats(range: DateRange) {
  return useQuery(options('recordings', range, (signal) => fetchJson<Recordings>('recordings', range, signal)))
}

/** Download one dataset as CSV: the server names the file. */
export async function downloadCsv(name: Dataset, range: DateRange): Promise<void> {
  const query = new URLSearchParams({ ...range, format: 'csv' })
  const response = await authedFetch(new Request(`/api/admin/analytics/${name}?${query}`, { credentials: 'same-origin' }))
  if (!response.ok) throw apiError(response, await response.json().catch(() => null))
  const blob = await response.blob()
  const disposition = response.headers.get('content-disposition') ?? ''
  const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `analytics-${name}.csv`
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  document.body.append(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}
