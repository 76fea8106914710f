// Unit tests of __SERVICE__'s frame handling (guide section 12.12), without a server or a
// network. `npm test` builds and runs them with Node's own test runner.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {FrameProcessor, type Frame} from './frames.js'

const OAUTH2 = {url: 'https://test.example.com'}

function exchange(...payloads: (string | object)[]): Frame[] {
  const frames = new FrameProcessor()
  const answers = payloads.flatMap((p) => frames.handle(typeof p === 'string' ? p : JSON.stringify(p)))
  return [...answers, ...frames.finish()]
}

describe('FrameProcessor', () => {
  it('answers each record, then the end-of-stream frame', () => {
    const answers = exchange({
      oauth2: OAUTH2,
      data: [
        {meta: {filename: 'a.txt'}, content: {text: 'one'}},
        {meta: {filename: 'b.txt'}, content: {text: 'two'}},
      ],
      tod: 'object',
      eos: true,
    })
    assert.equal(answers.length, 3)
    assert.deepEqual(answers.slice(0, 2).map((a) => a.data[0]?.meta.filename), ['a.txt', 'b.txt'])
    for (const answer of answers.slice(0, 2)) {
      assert.equal(answer.eos, false)
      assert.equal(answer.error, undefined)
      assert.deepEqual(answer.oauth2, OAUTH2)
    }
    assert.deepEqual(answers[2], {oauth2: OAUTH2, data: [], tod: 'object', eos: true})
  })

  it('answers a frame that is not JSON with an error frame, and the stream goes on', () => {
    const answers = exchange('{not json', {oauth2: OAUTH2, data: [{meta: {}, content: {}}], eos: true})
    assert.match(answers[0]?.error ?? '', /^bad frame: /)
    assert.equal(answers[0]?.eos, false)
    assert.equal(answers[1]?.error, undefined)
    assert.equal(answers.at(-1)?.eos, true)
  })

  it('answers a record that is not an object with an error frame of its own', () => {
    const answers = exchange({oauth2: OAUTH2, data: ['text', {meta: {n: 2}, content: {}}], eos: true})
    assert.equal(answers[0]?.error, 'record 0 is not an object with meta and content')
    assert.deepEqual(answers[1]?.data[0]?.meta, {n: 2})
    assert.equal(answers[2]?.eos, true)
  })

  it('ends the stream with one end-of-stream frame even when the client sent none', () => {
    const answers = exchange({oauth2: OAUTH2, data: [{meta: {}, content: {}}]})
    assert.equal(answers.at(-1)?.eos, true)
    assert.equal(answers.filter((a) => a.eos).length, 1)
  })
})
