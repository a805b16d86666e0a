// A stock yjs + y-websocket client editing a note's body the way the TipTap editor stores it:
// the XmlFragment "default" of paragraphs. Driven by the end-to-end tests of note content.
//
//   node ynote_client.mjs <ws base url> <document name> <token>
// stdout: {"event": "synced" | "change", "text": "<paragraph texts joined by \n>", "xml": ...}
//         {"event": "close", "code": n}
// stdin:  {"cmd": "append", "text": "..."} appends a paragraph (a client-side edit)
import * as readline from 'node:readline'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const [url, room, token] = process.argv.slice(2)
const doc = new Y.Doc()
const fragment = doc.getXmlFragment('default')
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

const blockText = (node) =>
  node instanceof Y.XmlText
    ? node.toDelta().map((op) => (typeof op.insert === 'string' ? op.insert : '')).join('')
    : node.toArray().map(blockText).join(node.nodeName === 'hardBreak' ? '\n' : '')
const textOf = () => {
  const lines = []
  const walk = (node) => {
    const children = node.toArray()
    if (children.some((c) => c instanceof Y.XmlElement && c.nodeName !== 'hardBreak')) {
      children.forEach(walk)
    } else {
      lines.push(blockText(node))
    }
  }
  fragment.toArray().forEach(walk)
  return lines.join('\n')
}
const snapshot = (event) => emit({ event, text: textOf(), xml: fragment.toString() })

const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket, params: { token } })
provider.on('sync', (synced) => { if (synced) snapshot('synced') })
provider.on('connection-close', (event) => emit({ event: 'close', code: event?.code ?? null }))
fragment.observeDeep(() => snapshot('change'))

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const message = JSON.parse(line)
  if (message.cmd === 'append') {
    doc.transact(() => {
      const paragraph = new Y.XmlElement('paragraph')
      const text = new Y.XmlText()
      text.insert(0, message.text)
      paragraph.insert(0, [text])
      fragment.push([paragraph])
    })
  } else if (message.cmd === 'exit') {
    provider.destroy()
    process.exit(0)
  }
})
