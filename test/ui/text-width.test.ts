// Wrapping for a terminal's width: a line's own indent stays, continuation lines get theirs,
// and colour codes take no room.
import {describe, expect, it} from 'vitest'
import {cut, visibleLength, wrapWords} from '../../src/ui/text-width.js'

describe('wrapWords', () => {
  it('keeps the first line’s leading spaces and indents the rest', () => {
    expect(wrapWords('    fix  port 64400: no service needs it, narrow port_range', 30, '         ')).toEqual([
      '    fix  port 64400: no',
      '         service needs it,',
      '         narrow port_range',
    ])
  })

  it('counts colour codes as nothing and leaves a word longer than the width whole', () => {
    expect(visibleLength('\u001B[33mWARN\u001B[39m ok')).toBe(7)
    expect(wrapWords('a verylongwordindeed b', 8, '  ')).toEqual(['a', '  verylongwordindeed', '  b'])
    expect(cut('abcdef', 4)).toBe('abc…')
  })
})
