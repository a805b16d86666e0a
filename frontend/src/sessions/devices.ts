/** Devices and refusals: the page's words for a device that cannot be had, the server's
 * refusal as an error, and the screen source (with its test hook). */

/** The page's own words for the failures of getting a device (DOMException names). */
export function deviceError(err: unknown, what: string): string {
  const name = err instanceof DOMException ? err.name : ''
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return `Permission to use your ${what} was denied: allow it in the browser's site settings and try again.`
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return `No ${what} was found on this device.`
  if (name === 'NotReadableError' || name === 'AbortError') return `Your ${what} is in use by another program or could not be started.`
  return `Could not start your ${what}${err instanceof Error && err.message ? `: ${err.message}` : '.'}`
}

/** A refusal of the server as a thrown error carrying its reason code. */
export class Refused extends Error {
  constructor(readonly reason: string) {
    super(reason)
  }
}

/** The screen to share (Chromium's fake-device flags give tests a fake monitor capture). */
export function screenStream(): Promise<MediaStream> {
  return navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false })
}
