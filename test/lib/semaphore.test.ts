import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Semaphore } from '../../src/lib/semaphore.ts'

test('never runs more than its size at once, and runs everything', async () => {
  const semaphore = new Semaphore(2)
  let running = 0
  let peak = 0
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => semaphore.run(async () => {
    running++
    peak = Math.max(peak, running)
    await sleep(2)
    running--
    return i
  })))
  assert.equal(peak, 2)
  assert.deepEqual(results, [...Array(10).keys()])
})

test('a failing task frees its slot', async () => {
  const semaphore = new Semaphore(1)
  await assert.rejects(semaphore.run(async () => { throw new Error('boom') }), /boom/)
  assert.equal(await semaphore.run(async () => 'next'), 'next')
})
