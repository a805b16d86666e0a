// Reference Yjs client for the note `meta` map (stdin -> stdout, one JSON object each way).
//   decode: {"update": "<hex>"} -> {"meta": {key: value}, "kinds": {key: "array"|"ytype"|typeof}}
//   encode: {"meta": {key: value}} -> {"update": "<hex>"}, set the way the page sets them
//           (`doc.getMap('meta').set(key, value)`, tags as a plain array).
import * as Y from 'yjs'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const request = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const doc = new Y.Doc()
const meta = doc.getMap('meta')
if (request.update !== undefined) {
  Y.applyUpdate(doc, Buffer.from(request.update, 'hex'))
  const kinds = {}
  for (const [key, value] of meta.entries()) {
    kinds[key] = Array.isArray(value) ? 'array' : value instanceof Y.AbstractType ? 'ytype' : typeof value
  }
  process.stdout.write(JSON.stringify({ meta: meta.toJSON(), kinds }))
} else {
  doc.transact(() => { for (const [key, value] of Object.entries(request.meta)) meta.set(key, value) })
  process.stdout.write(JSON.stringify({ update: Buffer.from(Y.encodeStateAsUpdate(doc)).toString('hex') }))
}
