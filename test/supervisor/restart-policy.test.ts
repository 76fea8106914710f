import {describe, expect, it} from 'vitest'
import type {BackoffSettings} from '../../src/manifest/types.js'
import {nextRestart, policyRestarts} from '../../src/supervisor/restart-policy.js'
import {ALLOWED, canMove} from '../../src/supervisor/states.js'
import {startLayers, stopLayers, withDependants, withDependencies} from '../../src/supervisor/dependency-order.js'

const backoff: BackoffSettings = {initialMs: 500, maxMs: 4000, factor: 2, resetAfterMs: 60_000, maxFailures: 6}

describe('restart policy', () => {
  it('restarts at once the first time, then waits longer each time up to the cap, then gives up', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((n) => nextRestart(n, backoff))
    expect(delays).toEqual([
      {restart: true, delayMs: 0},
      {restart: true, delayMs: 500},
      {restart: true, delayMs: 1000},
      {restart: true, delayMs: 2000},
      {restart: true, delayMs: 4000},
      {restart: true, delayMs: 4000},
    ])
    expect(nextRestart(7, backoff)).toEqual({fatal: true, restart: false})
  })

  it('restarts per policy and exit code', () => {
    expect([policyRestarts('always', 0), policyRestarts('always', 1), policyRestarts('always', null)]).toEqual([true, true, true])
    expect([policyRestarts('on-failure', 0), policyRestarts('on-failure', 2), policyRestarts('on-failure', null)]).toEqual([false, true, true])
    expect([policyRestarts('never', 0), policyRestarts('never', 1)]).toEqual([false, false])
  })
})

describe('state table', () => {
  it('lets an operator start a fatal service and nothing leave stopped but starting', () => {
    expect(canMove('fatal', 'starting')).toBe(true)
    expect(ALLOWED.stopped).toEqual(['starting'])
    expect(canMove('running', 'backoff')).toBe(false)
    expect(canMove('stopped', 'running')).toBe(false)
  })
})

describe('dependency order', () => {
  const services = [
    {name: 'web', dependsOn: ['api']},
    {name: 'api', dependsOn: ['db', 'cache']},
    {name: 'db', dependsOn: []},
    {name: 'cache', dependsOn: []},
    {name: 'lonely', dependsOn: []},
  ]
  const names = (layers: {name: string}[][]) => layers.map((layer) => layer.map((s) => s.name))

  it('starts dependencies first, in parallel layers, and stops in reverse', () => {
    expect(names(startLayers(services))).toEqual([['db', 'cache', 'lonely'], ['api'], ['web']])
    expect(names(stopLayers(services))).toEqual([['web'], ['api'], ['db', 'cache', 'lonely']])
  })

  it('adds what a service needs when starting it, and what needs it when stopping it', () => {
    expect(withDependencies(services, new Set(['api'])).map((s) => s.name)).toEqual(['api', 'db', 'cache'])
    expect(withDependants(services, new Set(['db'])).map((s) => s.name)).toEqual(['web', 'api', 'db'])
  })
})
