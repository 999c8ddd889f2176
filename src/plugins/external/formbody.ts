import formbody from '@fastify/formbody'

/**
 * `application/x-www-form-urlencoded` bodies for the HTML forms. Repeated keys become arrays,
 * which the route schemas (`type: string`) then reject with 400.
 * @see https://github.com/fastify/fastify-formbody
 */
export const autoConfig = { bodyLimit: 16 * 1024 }

export default formbody
