// Plain aligned columns, the way `docker ps` and `supervisorctl status` print: no
// borders, so the output greps and cuts well.
import Table from 'cli-table3'

export function renderTable(head: string[], rows: string[][]): string {
  const table = new Table({
    head,
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '',
      right: '', 'right-mid': '', middle: '  ',
    },
    style: {head: [], border: [], 'padding-left': 0, 'padding-right': 0},
  })
  table.push(...rows)
  return table.toString().split('\n').map((line) => line.trimEnd()).join('\n')
}
