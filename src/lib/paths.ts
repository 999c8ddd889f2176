import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The project folder (holds views/ and public/), whether running from src/ or dist/. */
export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
