import { join } from 'node:path'
import fastifyStatic, { type FastifyStaticOptions } from '@fastify/static'
import { projectRoot } from '../../lib/paths.ts'

/**
 * Files from `public/`, one route per file found at start-up (`wildcard: false`), so unknown
 * paths fall through to the 404 page. Assets are revalidated with ETags.
 * @see https://github.com/fastify/fastify-static
 */
export const autoConfig: FastifyStaticOptions = {
  root: join(projectRoot, 'public'),
  prefix: '/',
  wildcard: false,
  index: false,
  dotfiles: 'deny',
  etag: true,
  lastModified: true,
  cacheControl: true,
  maxAge: '1h'
}

export default fastifyStatic
