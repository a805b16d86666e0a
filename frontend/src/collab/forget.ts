/**
 * The record of note documents kept in this browser (IndexedDB, one database per document,
 * named like the document), so signing out can delete them. No Yjs here: the sign-in page uses
 * this and must stay small.
 */
const OPENED_KEY = 'collab.openedNotes'

function opened(): string[] {
  try {
    return JSON.parse(localStorage.getItem(OPENED_KEY) ?? '[]') as string[]
  } catch {
    return []
  }
}

export function rememberOpened(name: string): void {
  const names = new Set(opened())
  names.add(name)
  localStorage.setItem(OPENED_KEY, JSON.stringify([...names]))
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name)
    request.onsuccess = request.onerror = request.onblocked = () => resolve()
  })
}

/** Drop every locally kept note document and queued change (on sign-out, or another user). */
export async function forgetLocalDocuments(): Promise<void> {
  await Promise.all(opened().map(deleteDatabase))
  localStorage.removeItem(OPENED_KEY)
  localStorage.removeItem('collab.notesCache')
  for (const key of Object.keys(localStorage)) {
    if (/^collab\.(doc)?pending\./.test(key) || key === 'collab.outbox') localStorage.removeItem(key)
  }
}
