// One state change as the operator reads it while a command waits.
import type {ChalkInstance} from 'chalk'
import type {Transition} from '../supervisor/states.js'
import {stateColour} from './service-report.js'

export function transitionLine(c: ChalkInstance, transition: Transition): string {
  return `${c.bold(transition.name)}: ${stateColour(c, transition.from)} → ${stateColour(c, transition.to)}  ${c.dim(transition.cause)}`
}
