// Widths of text as a terminal shows it: colour codes take no room, and a line longer than
// the terminal wraps at its edge, so long lines are wrapped (or cut) here instead.

const ANSI = /\u001B\[[0-9;]*m/g

export function visibleLength(text: string): number {
  return text.replace(ANSI, '').length
}

/** Words wrapped to width; the first line keeps its own leading spaces, the others get `indent`. Long words are left whole. */
export function wrapWords(text: string, width: number, indent = ''): string[] {
  const lead = /^ */.exec(text)![0]
  const lines: string[] = []
  let current = ''
  for (const word of text.slice(lead.length).split(' ')) {
    const prefix = lines.length === 0 ? lead : indent
    if (current !== '' && visibleLength(prefix + current + ' ' + word) > width) {
      lines.push(prefix + current)
      current = word
    } else {
      current = current === '' ? word : `${current} ${word}`
    }
  }
  lines.push((lines.length === 0 ? lead : indent) + current)
  return lines
}

/** Cut to width with an ellipsis; text without colour codes only. */
export function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`
}

// Colour and style codes (SGR), which take no room on the screen.
const SGR = /^\u001B\[[0-9;]*m/

/** Cut to width with an ellipsis, keeping colour codes whole and closing them when cut. */
export function cutVisible(text: string, width: number): string {
  if (visibleLength(text) <= width) return text
  let out = ''
  let shown = 0
  for (let i = 0; i < text.length; ) {
    const code = SGR.exec(text.slice(i))
    if (code) {
      out += code[0]
      i += code[0].length
      continue
    }
    if (shown === width - 1) break
    out += text[i]
    shown++
    i++
  }
  return `${out}…\u001B[0m`
}
