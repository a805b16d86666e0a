/**
 * Small SVG charts drawn here (no chart library: the admin chunk stays small). Each chart is an
 * image with a text summary for screen readers; the numbers are also in a table under it.
 */
import type { ReactNode } from 'react'

export interface Series {
  name: string
  values: number[]
  /** a CSS class giving the fill colour (see analytics.css) */
  tone: 'a' | 'b' | 'c' | 'd' | 'e'
}

function top(series: Series[]): number {
  return Math.max(1, ...series.flatMap((s) => s.values))
}

function empty(series: Series[]): boolean {
  return series.every((s) => s.values.every((v) => !v))
}

/** Said under a chart's title when it has nothing to draw (an empty or quiet range). */
function Nothing() {
  return <p className="muted chart-empty">Nothing in this range.</p>
}

function Legend({ series }: { series: Series[] }) {
  if (series.length < 2) return null
  return (
    <ul className="chart-legend" aria-hidden="true">
      {series.map((s) => (
        <li key={s.name}>
          <span className={`swatch tone-${s.tone}`} />
          {s.name}
        </li>
      ))}
    </ul>
  )
}

/** Vertical bars over a sequence (days, tenths of a video); a few labels along the bottom. */
export function ColumnChart({
  title,
  labels,
  series,
  summary,
  height = 160,
}: {
  title: string
  labels: string[]
  series: Series[]
  summary: string
  height?: number
}) {
  const max = top(series)
  const n = Math.max(1, labels.length)
  const slot = 100 / n
  const bar = (slot * 0.8) / series.length
  const ticks = labels.length <= 10 ? labels.map((_, i) => i) : [0, Math.floor((n - 1) / 2), n - 1]
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      {empty(series) ? <Nothing /> : <Legend series={series} />}
      <svg className="chart-svg" width="100%" height={height + 20} role="img" aria-label={`${title}: ${summary}`}>
        <line x1="0" x2="100%" y1={height} y2={height} className="chart-axis" />
        <text x="0" y="10" className="chart-max">
          {max}
        </text>
        {series.map((s, si) =>
          s.values.map((v, i) => {
            const h = (v / max) * (height - 14)
            return (
              <rect
                key={`${s.name}-${i}`}
                className={`tone-${s.tone}`}
                x={`${i * slot + slot * 0.1 + si * bar}%`}
                width={`${Math.max(bar, 0.2)}%`}
                y={height - h}
                height={h}
              >
                <title>{`${labels[i]}: ${v} ${s.name}`}</title>
              </rect>
            )
          }),
        )}
        {ticks.map((i) => (
          <text
            key={i}
            x={`${i * slot + slot / 2}%`}
            y={height + 15}
            className={labels.length <= 10 && i % 2 === 1 ? 'chart-tick chart-tick-minor' : 'chart-tick'}
            textAnchor={labels.length > 10 ? (i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle') : 'middle'}
          >
            {labels[i]}
          </text>
        ))}
      </svg>
    </figure>
  )
}

/** One row per item (a module, a lesson, a session): its label, then a bar per series. */
export function BarList({
  title,
  labels,
  series,
  summary,
  format = String,
  limit = 15,
}: {
  title: string
  labels: string[]
  series: Series[]
  summary: string
  format?: (value: number) => string
  /** at most this many rows, the largest by the first series (the table has them all) */
  limit?: number
}) {
  const max = top(series)
  const first = series[0]?.values ?? []
  const shown = labels
    .map((_, i) => i)
    .filter((i) => series.some((s) => s.values[i]))
    .sort((a, b) => (first[b] ?? 0) - (first[a] ?? 0) || a - b)
    .slice(0, limit)
    .sort((a, b) => a - b)
  const active = labels.filter((_, i) => series.some((s) => s.values[i])).length
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      {shown.length ? <Legend series={series} /> : <Nothing />}
      <div role="img" aria-label={`${title}: ${summary}`} className="bar-list">
        {shown.map((i) => labels[i]!).map((label, k) => {
          const i = shown[k]!
          return (
          <div key={`${label}-${i}`} className="bar-row" aria-hidden="true">
            <span className="bar-label" title={label}>
              {label}
            </span>
            <svg width="100%" height={series.length * 12} className="bar-svg">
              {series.map((s, si) => (
                <rect
                  key={s.name}
                  className={`tone-${s.tone}`}
                  x="0"
                  y={si * 12 + 1}
                  height="10"
                  width={`${Math.max((s.values[i]! / max) * 100, s.values[i] ? 0.5 : 0)}%`}
                >
                  <title>{`${label}: ${format(s.values[i]!)} ${s.name}`}</title>
                </rect>
              ))}
            </svg>
            <span className="bar-value">{series.map((s) => format(s.values[i]!)).join(' / ')}</span>
          </div>
          )
        })}
      </div>
      {active > shown.length && (
        <p className="muted chart-more">
          The {shown.length} largest of {active}; all are in the table below and the CSV.
        </p>
      )}
    </figure>
  )
}

/** The numbers behind a chart, folded away. */
export function DataTable({ caption, head, rows }: { caption: string; head: string[]; rows: ReactNode[][] }) {
  return (
    <details className="data-table">
      <summary>Table: {caption}</summary>
      <div className="table-scroll">
        <table>
          <thead>
            <tr>
              {head.map((h) => (
                <th key={h} scope="col">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row, i) => (
              <tr key={i}>
                {row.map((cell, j) => (
                  <td key={j}>{cell}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  )
}
