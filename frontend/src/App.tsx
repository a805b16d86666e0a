/**
 * Routes (real URLs, served by the SPA fallback in api/static.py). Each area is its own chunk
 * (React.lazy): the sign-in page loads neither the notes list nor the editor.
 */
import { lazy, Suspense, type ReactNode } from 'react'
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { createBrowserRouter, Navigate, RouterProvider, useLocation } from 'react-router'
import { AuthPage } from './routes/AuthPage'
import { NotFound } from './routes/NotFound'
import { useUser } from './lib/useSession'
import { Toasts } from './ui/toast'

const Shell = lazy(() => import('./routes/Shell'))
const NotesArea = lazy(() => import('./notes/NotesArea'))
const NotesHome = lazy(() => import('./notes/NotesHome'))
const NotePage = lazy(() => import('./notes/NotePage'))
const SessionsList = lazy(() => import('./sessions/SessionsList'))
const RoomPage = lazy(() => import('./sessions/RoomPage'))
const CoursesPage = lazy(() => import('./courses/CoursesPage'))
const ModulePage = lazy(() => import('./courses/ModulePage'))
const LessonPage = lazy(() => import('./courses/LessonPage'))
const AccountPage = lazy(() => import('./account/AccountPage'))
const RecordingsPage = lazy(() => import('./recordings/RecordingsPage'))
const AnalyticsPage = lazy(() => import('./admin/AnalyticsPage'))

export const queryClient = new QueryClient({
  defaultOptions: {
    // no refetch intervals anywhere: the notes list is invalidated by the change feed
    queries: { refetchOnWindowFocus: false, refetchInterval: false, staleTime: 30_000 },
  },
})

function Loading() {
  return (
    <div className="loading" role="status">
      Loading…
    </div>
  )
}

function RequireUser({ children }: { children: ReactNode }) {
  const user = useUser()
  const location = useLocation()
  if (!user) return <Navigate to="/login" replace state={{ from: location.pathname }} />
  return <Suspense fallback={<Loading />}>{children}</Suspense>
}

function lazyPage(node: ReactNode) {
  return <Suspense fallback={<Loading />}>{node}</Suspense>
}

/** Links from the hash-routed page (`#/n/<id>`, `#/login`) keep working. */
function upgradeHashUrl(): void {
  const hash = location.hash
  if (!hash.startsWith('#/')) return
  const path = hash.slice(1)
  const note = /^\/n\/([0-9a-fA-F-]{8,})$/.exec(path)
  const target = note ? `/notes/${note[1]}` : path === '/' ? '/notes' : path
  history.replaceState(null, '', target)
}

// before the router reads the location
upgradeHashUrl()

const router = createBrowserRouter([
  { path: '/', element: <Navigate to="/notes" replace /> },
  { path: '/login', element: <AuthPage mode="login" /> },
  { path: '/register', element: <AuthPage mode="register" /> },
  {
    element: (
      <RequireUser>
        <Shell />
      </RequireUser>
    ),
    children: [
      {
        path: '/notes',
        element: lazyPage(<NotesArea />),
        children: [
          { index: true, element: lazyPage(<NotesHome />) },
          { path: ':noteId', element: lazyPage(<NotePage />) },
        ],
      },
      { path: '/courses', element: lazyPage(<CoursesPage />) },
      { path: '/courses/:moduleId', element: lazyPage(<ModulePage />) },
      { path: '/lessons/:lessonId', element: lazyPage(<LessonPage />) },
      { path: '/lessons/:lessonId/parts/:subLessonId', element: lazyPage(<LessonPage />) },
      { path: '/sessions', element: lazyPage(<SessionsList />) },
      { path: '/sessions/:sessionId', element: lazyPage(<RoomPage />) },
      { path: '/recordings', element: lazyPage(<RecordingsPage />) },
      { path: '/account', element: lazyPage(<AccountPage />) },
      { path: '/admin/analytics', element: lazyPage(<AnalyticsPage />) },
    ],
  },
  { path: '*', element: <NotFound /> },
])

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
      <Toasts />
    </QueryClientProvider>
  )
}
