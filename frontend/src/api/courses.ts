/**
 * Courses server state: modules (search, difficulty), lessons, progress, playback tokens.
 * Searches wait for a pause in typing (the caller debounces) and a superseded one is aborted
 * (the query's AbortSignal goes to fetch), as in the notes list.
 */
import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { api, ApiError, must, type Schemas } from './client'

export type Module = Schemas['ModuleOut']
export type Lesson = Schemas['LessonOut']
export type SubLesson = Schemas['SubLessonOut']
export type LessonDetail = Schemas['LessonDetail']
export type LessonProgress = Schemas['LessonProgressOut']
export type ContinueItem = Schemas['ContinueItem']
export type PlaybackToken = Schemas['PlaybackToken']
export type Difficulty = NonNullable<Module['difficulty']>

export const DIFFICULTIES: Difficulty[] = ['beginner', 'intermediate', 'advanced']

export const courseKeys = {
  all: ['courses'] as const,
  modules: (search: string, difficulty: string) => ['courses', 'modules', search, difficulty] as const,
  module: (id: string) => ['courses', 'module', id] as const,
  lessons: (moduleId: string) => ['courses', 'lessons', moduleId] as const,
  lesson: (id: string) => ['courses', 'lesson', id] as const,
  moduleProgress: (moduleId: string) => ['courses', 'progress', moduleId] as const,
  continue: ['courses', 'continue'] as const,
  subLessonProgress: (id: string) => ['courses', 'sub-progress', id] as const,
}

const noRetryOn4xx = (count: number, err: unknown) => !(err instanceof ApiError && err.status < 500) && count < 2

export function useModules(search: string, difficulty: Difficulty | '') {
  return useQuery({
    queryKey: courseKeys.modules(search, difficulty),
    queryFn: async ({ signal }) =>
      must(
        await api.GET('/api/workbook/modules', {
          params: { query: { ...(search ? { search } : {}), ...(difficulty ? { difficulty } : {}), limit: 100 } },
          signal,
        }),
      ),
    placeholderData: keepPreviousData,
    retry: noRetryOn4xx,
  })
}

export function useModule(id: string) {
  return useQuery({
    queryKey: courseKeys.module(id),
    queryFn: async ({ signal }) =>
      must(await api.GET('/api/workbook/modules/{moduleId}', { params: { path: { moduleId: id } }, signal })).module,
    retry: noRetryOn4xx,
  })
}

/** The module's lessons; a locked module answers 403 and is not asked. */
export function useLessons(moduleId: string, enabled: boolean) {
  return useQuery({
    queryKey: courseKeys.lessons(moduleId),
    queryFn: async ({ signal }) =>
      must(await api.GET('/api/workbook/modules/{moduleId}/lessons', { params: { path: { moduleId } }, signal }))
        .lessons,
    enabled,
    retry: noRetryOn4xx,
  })
}

/** My progress on every lesson of a module, in one call, by lesson id. */
export function useModuleProgress(moduleId: string, enabled: boolean) {
  return useQuery({
    queryKey: courseKeys.moduleProgress(moduleId),
    queryFn: async ({ signal }) => {
      const body = must(
        await api.GET('/api/progress/modules/{moduleId}/lessons', { params: { path: { moduleId } }, signal }),
      )
      return new Map(body.progress.map((p) => [p.lessonId, p]))
    },
    enabled,
    staleTime: 0,
    retry: noRetryOn4xx,
  })
}

export function useContinue() {
  return useQuery({
    queryKey: courseKeys.continue,
    queryFn: async ({ signal }) =>
      must(await api.GET('/api/progress/continue', { params: { query: { limit: 5 } }, signal })).items,
    staleTime: 0,
    retry: noRetryOn4xx,
  })
}

export function useLesson(id: string) {
  return useQuery({
    queryKey: courseKeys.lesson(id),
    queryFn: async ({ signal }) =>
      must(await api.GET('/api/workbook/lessons/{lessonId}', { params: { path: { lessonId: id } }, signal })),
    retry: noRetryOn4xx,
  })
}

export async function fetchLessonProgress(lessonId: string) {
  return must(await api.GET('/api/progress/lessons/{lessonId}', { params: { path: { lessonId } } })).progress
}

export async function fetchSubLessonProgress(subLessonId: string) {
  return must(await api.GET('/api/progress/sub-lessons/{subLessonId}', { params: { path: { subLessonId } } }))
    .progress
}

export async function playbackToken(playbackId: string, type: 'video' | 'thumbnail' | 'storyboard') {
  return must(await api.POST('/api/mux/playback-token', { body: { playbackId, type } }))
}

export function formatTime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}
