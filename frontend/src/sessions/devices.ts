/** Devices and refusals: the page's words for a device that cannot be had (and for a source
 * the relay stopped), the server's refusal as an error, capturing a source, and the screen
 * source (with its test hook). */

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

/** A fresh track of my microphone, camera (640×480 at 30 fps ideally) or screen. */
export async function capture(source: 'audio' | 'camera' | 'screen'): Promise<MediaStreamTrack> {
  let track: MediaStreamTrack | undefined
  if (source === 'screen') track = (await screenStream()).getVideoTracks()[0]
  else {
    const stream = await navigator.mediaDevices.getUserMedia(
      source === 'audio' ? { audio: true } : { video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } } },
    )
    track = stream.getTracks()[0]
  }
  if (!track) throw new DOMException('no track', 'NotFoundError')
  return track
}

/** The page's words for a source the relay stopped over the room's cap (`limit` bits/s). */
export function stoppedText(source: 'audio' | 'camera' | 'screen', limit: number): string {
  const what = source === 'audio' ? 'microphone' : source === 'screen' ? 'screen share' : 'camera'
  const cap = limit >= 1_000_000 ? `${(limit / 1_000_000).toFixed(1)} Mbit/s` : `${Math.round(limit / 1000)} kbit/s`
  return `Your ${what} was stopped: it sent more than the room allows (${cap}). Turn it on again to retry.`
}
