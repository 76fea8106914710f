import {describe, expect, test} from 'vitest'
import {utcTimestamp} from '../../src/utc-time.js'

describe('an instant as ISO 8601 in UTC', () => {
  test.each([0, 1, 999, 1_000_000_000_000, 1_796_212_362_258, 253_402_300_799_999, -1, -62_198_755_200_000, 253_402_300_800_000, 8.64e15, -8.64e15])('%d ms reads as toISOString reads it', (ms) => {
    expect(utcTimestamp(ms)).toBe(new Date(ms).toISOString())
  })

  test('a time that is not one is refused, as toISOString refuses it', () => {
    expect(() => utcTimestamp(Number.NaN)).toThrow(RangeError)
    expect(() => utcTimestamp(8.64e15 + 1)).toThrow(RangeError)
  })
})
