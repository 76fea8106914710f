// Plain aligned columns, the way `docker ps` and `supervisorctl status` print: no
// borders, two spaces between columns, so the output greps and cuts well. Padded here
// rather than by a table library: qm status prints this on every call, and loading one
// cost 10 to 20 ms of it (measured with `npm run bench`).
import {visibleLength} from './text-width.js'

export function renderTable(head: string[], rows: string[][]): string {
  const lines = [head, ...rows]
  const widths = head.map((_, column) => Math.max(...lines.map((cells) => visibleLength(cells[column] ?? ''))))
  return lines
    .map((cells) => cells.map((cell, column) => cell + ' '.repeat(widths[column]! - visibleLength(cell))).join('  ').trimEnd())
    .join('\n')
}
