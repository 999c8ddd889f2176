/**
 * Command-line options of the bench scripts: a mistake in them (an unknown option, a value that
 * is not a number, an unknown section) is one line and exit code 2, not a stack trace.
 */
import { parseArgs } from 'node:util'

/** Prints `message` and where the options are listed, and exits with 2. */
export function usageError (message, command) {
  process.stderr.write(`${command}: ${message}\n(${command} -- --help lists every option)\n`)
  process.exit(2)
}

/** `parseArgs` for `command`; a parse error is a usage error. */
export function parseFlags (options, command) {
  try {
    return parseArgs({ options }).values
  } catch (err) {
    return usageError(err.message, command)
  }
}
