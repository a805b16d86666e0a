// Reference Yjs client for the rich-text tests (stdin -> stdout, one JSON object each way).
//   decode: {"update": "<hex>"} -> {"xml": fragment.toString(), "doc": ProseMirror JSON}
//           (marks sorted by type, empty attrs and content left out, as notes.richtext does)
//   encode: {"doc": ProseMirror-shaped JSON} -> {"update": "<hex>"}, built the way
//           y-prosemirror builds it (marks as XmlText format attributes, attrs as element attrs).
import * as Y from 'yjs'

const readStdin = async () => {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

const attrValue = (v) => (typeof v === 'bigint' ? { bigint: v.toString() } : v)

const dumpNode = (node) => {
  if (node instanceof Y.XmlText) {
    return node.toDelta().map((op) => {
      const out = { type: 'text', text: op.insert }
      const names = Object.keys(op.attributes || {}).sort()
      if (names.length) {
        out.marks = names.map((name) => {
          const attrs = op.attributes[name]
          const empty = attrs === null || typeof attrs !== 'object' || !Object.keys(attrs).length
          return empty ? { type: name } : { type: name, attrs }
        })
      }
      return out
    })
  }
  const attrs = {}
  for (const [k, v] of Object.entries(node.getAttributes())) attrs[k] = attrValue(v)
  const content = node.toArray().flatMap(dumpNode)
  const out = { type: node.nodeName }
  if (Object.keys(attrs).length) out.attrs = attrs
  if (content.length) out.content = content
  return [out]
}

const buildNode = (json) => {
  if (json.type === 'text') throw new Error('text outside a text block')
  const el = new Y.XmlElement(json.type)
  const children = []
  let run = null
  for (const child of json.content || []) {
    if (child.type === 'text') {
      if (run === null) { run = []; children.push(run) }
      run.push(child)
    } else {
      run = null
      children.push(buildNode(child))
    }
  }
  const built = children.map((c) => (Array.isArray(c) ? new Y.XmlText() : c))
  el.insert(0, built)
  children.forEach((c, i) => {
    if (!Array.isArray(c)) return
    let pos = 0
    for (const t of c) {
      const marks = {}
      for (const m of t.marks || []) marks[m.type] = m.attrs || {}
      built[i].insert(pos, t.text, marks)
      pos += t.text.length
    }
  })
  for (const [k, v] of Object.entries(json.attrs || {})) if (v !== null) el.setAttribute(k, v)
  return el
}

const input = await readStdin()
if (input.updates !== undefined) {
  const docs = input.updates.map((hex) => {
    const each = new Y.Doc()
    Y.applyUpdate(each, Buffer.from(hex, 'hex'))
    return { type: 'doc', content: each.getXmlFragment('default').toArray().flatMap(dumpNode) }
  })
  process.stdout.write(JSON.stringify({ docs }))
  process.exit(0)
}
const doc = new Y.Doc()
const fragment = doc.getXmlFragment('default')
if (input.update !== undefined) {
  Y.applyUpdate(doc, Buffer.from(input.update, 'hex'))
  const content = fragment.toArray().flatMap(dumpNode)
  process.stdout.write(JSON.stringify({ xml: fragment.toString(), doc: { type: 'doc', content } }))
} else {
  doc.transact(() => {
    fragment.insert(0, input.doc.content.map(buildNode))
  })
  process.stdout.write(JSON.stringify({ update: Buffer.from(Y.encodeStateAsUpdate(doc)).toString('hex') }))
}
