/** Lets at most `size` async tasks run at once; the rest wait in arrival order. */
export class Semaphore {
  #free: number
  readonly #waiting: Array<() => void> = []

  constructor (size: number) {
    this.#free = size
  }

  async run<T> (task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) {
      this.#free--
    } else {
      await new Promise<void>(resolve => this.#waiting.push(resolve))
    }
    try {
      return await task()
    } finally {
      const next = this.#waiting.shift()
      if (next) next()
      else this.#free++
    }
  }
}
