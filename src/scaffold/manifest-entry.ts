// Adds a service to a manifest's text. yaml's Document API finds the services map and
// renders the new entry; the entry's lines are then spliced in after the last service, so
// every other byte stays as the operator wrote it (String(doc) would re-align trailing
// comments and re-space the file). Also writes the minimal manifest for a folder without one.
import {Document, isCollection, isMap, parseDocument, type Node, type ToStringOptions} from 'yaml'

export interface ServiceEntry {
  command: string[]
  env?: Record<string, string>
  expected_version?: string
}

/** The manifest text with `name` appended under services, laid out like the entries before it. */
export function addServiceEntry(text: string, name: string, entry: ServiceEntry): string {
  const doc = parseDocument(text)
  if (doc.errors.length > 0) throw new Error(`cannot add ${name}: the manifest does not parse: ${doc.errors[0]!.message}`)
  const services = doc.get('services', true)
  const firstKey = isMap(services) ? (services.items[0]?.key as Node | undefined) : undefined
  if (isMap(services) && !services.flow && services.range && firstKey?.range) {
    const column = firstKey.range[0] - text.lastIndexOf('\n', firstKey.range[0] - 1) - 1
    const rendered = entryDocument(entry, name).toString(renderOptions(text, column || 2))
    const lines = rendered
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => ' '.repeat(column) + line)
    // The map's value ends after the newline of its last line, or at the end of a file without one.
    const at = services.range[1]
    const before = text.slice(0, at)
    return `${before}${before.endsWith('\n') ? '' : '\n'}${lines.join('\n')}\n${text.slice(at)}`
  }
  // No block map of services to follow (missing, empty or a flow map): yaml lays it out.
  const node = entryDocument(entry).contents!
  if (isMap(services)) services.set(name, node)
  else doc.set('services', doc.createNode({[name]: node}))
  return doc.toString(renderOptions(text, detectIndent(text)))
}

export function minimalManifest(name: string, entry: ServiceEntry): string {
  const head = [
    '# The services qm runs on this host. Certificates come from ./certs: `qm certs init`',
    '# makes a development set. `qm validate` checks this file; `qm schema` prints its schema.',
    'version: 1',
    'defaults:',
    '  certs: ./certs',
    'services:',
    '',
  ].join('\n')
  return addServiceEntry(head, name, entry)
}

// Commands and env as one-line flow collections, the way the README and examples write them.
// With a name, the document is {name: entry}, the shape that is spliced under services.
function entryDocument(entry: ServiceEntry, name?: string): Document {
  const doc = new Document(name === undefined ? entry : {[name]: entry})
  const prefix = name === undefined ? [] : [name]
  for (const key of ['command', 'env']) {
    const node = doc.getIn([...prefix, key], true)
    if (isCollection(node)) node.flow = true
  }
  return doc
}

function renderOptions(text: string, indent: number): ToStringOptions {
  return {
    indent,
    lineWidth: 0,
    // Flow collections as the file writes them: {a: 1} or { a: 1 }.
    flowCollectionPadding: /^[^#\n]*[{[] \S/m.test(text),
  }
}

/** The indentation of the first indented line; 2 when nothing is indented yet. */
function detectIndent(text: string): number {
  const match = /^( +)[^\s#]/m.exec(text)
  return match ? match[1]!.length : 2
}
