import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/', 'src/generated/', 'playwright-report/', 'test-results/', 'instance/'] })
]
