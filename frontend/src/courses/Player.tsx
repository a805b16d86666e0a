/**
 * Mux Player (a web component, in its own chunk: never in the first load). The start position
 * is a prop the parent fixes when it mounts this player: hls.js starts there, and nothing
 * sets currentTime on top of it.
 */
import type { MuxCSSProperties } from '@mux/mux-player-react'
import MuxPlayer from '@mux/mux-player-react'
import type MuxPlayerElement from '@mux/mux-player'

export interface PlayerSource {
  /** this server's own stream (the sample course): played as a URL */
  streamUrl: string | null
  playbackId: string
  tokens: { playback: string; thumbnail?: string; storyboard?: string }
  customDomain?: string | null
}

interface Props {
  source: PlayerSource
  title: string
  startTime: number
  autoPlay: boolean
  poster?: string
  onElement: (el: MuxPlayerElement | null) => void
}

export default function Player({ source, title, startTime, autoPlay, poster, onElement }: Props) {
  const common = {
    ref: onElement,
    title,
    startTime: startTime > 0 ? startTime : undefined,
    // a remount after a token refresh plays on (muted only if the browser refuses sound)
    autoPlay: autoPlay ? ('any' as const) : undefined,
    disableTracking: true,
    streamType: 'on-demand' as const,
    accentColor: '#4f46e5',
    // media-chrome's time display and rate button have an aria-label that does not contain
    // their visible text (axe: label-content-name-mismatch); the page shows the time itself
    style: {
      width: '100%',
      aspectRatio: '16 / 9',
      '--time-display': 'none',
      '--playback-rate-button': 'none',
      '--playback-rate-menu-button': 'none',
    } as MuxCSSProperties,
  }
  if (source.streamUrl) return <MuxPlayer {...common} src={source.streamUrl} poster={poster} />
  return (
    <MuxPlayer
      {...common}
      playbackId={source.playbackId}
      tokens={source.tokens}
      {...(source.customDomain ? { customDomain: source.customDomain } : {})}
    />
  )
}
