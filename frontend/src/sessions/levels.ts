/**
 * Audio levels measured here with WebAudio (docs/media.md, "The room page"): my own
 * microphone (the meter beside my mic button) and, peer to peer only, the voices this page
 * receives (no server hears them; through the relay the server measures the speaker).
 * RMS 0..1, five times a second.
 */
export class AudioLevels {
  private context: AudioContext | null = null
  private readonly analysers = new Map<string, { analyser: AnalyserNode; source: MediaStreamAudioSourceNode; data: Float32Array<ArrayBuffer> }>()
  private timer: number | null = null
  /** userId → audio level 0..1 (RMS), refreshed five times a second. */
  readonly levels = new Map<string, number>()

  /** `silent(userId)`: a level to report as 0 (my own muted microphone); `changed` after a tick. */
  constructor(
    private readonly silent: (userId: string) => boolean,
    private readonly changed: () => void,
  ) {}

  watch(userId: string, stream: MediaStream): void {
    try {
      this.context ??= new AudioContext()
      void this.context.resume().catch(() => undefined)
      this.drop(userId)
      const source = this.context.createMediaStreamSource(stream)
      const analyser = this.context.createAnalyser()
      analyser.fftSize = 512
      source.connect(analyser)
      this.analysers.set(userId, { analyser, source, data: new Float32Array(analyser.fftSize) })
      this.timer ??= window.setInterval(() => this.measure(), 200)
    } catch {
      // no WebAudio: no speaker highlight, the sound itself still plays
    }
  }

  drop(userId: string): void {
    const entry = this.analysers.get(userId)
    if (!entry) return
    entry.source.disconnect()
    this.analysers.delete(userId)
    this.levels.delete(userId)
  }

  private measure(): void {
    let changed = false
    for (const [userId, { analyser, data }] of this.analysers) {
      analyser.getFloatTimeDomainData(data)
      let sum = 0
      for (const v of data) sum += v * v
      const level = Math.round(Math.sqrt(sum / data.length) * 1000) / 1000
      const value = this.silent(userId) ? 0 : level
      if (this.levels.get(userId) !== value) changed = true
      this.levels.set(userId, value)
    }
    if (changed) this.changed()
  }

  /** Who speaks now: the loudest level above a floor, or null. */
  get speaker(): string | null {
    let best: string | null = null
    let loudest = 0.02
    for (const [userId, level] of this.levels) {
      if (level > loudest) {
        loudest = level
        best = userId
      }
    }
    return best
  }

  close(): void {
    if (this.timer !== null) window.clearInterval(this.timer)
    for (const userId of [...this.analysers.keys()]) this.drop(userId)
    void this.context?.close().catch(() => undefined)
  }
}
