// Bench-only preload (node --require): counts the statements this process sends to PostgreSQL
// (every pg Client#query call, including BEGIN/COMMIT) and writes the running total to
// BENCH_PG_COUNT_FILE on SIGWINCH (a signal close-with-grace does not treat as shutdown and node ignores by default), so bench/router.ts can take the count over its measured window
// (the shared PostgreSQL here has no pg_stat_statements).
const { writeFileSync } = require('node:fs');
const pg = require('pg');
let n = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(...args) {
  n++;
  return query.apply(this, args);
};
process.on('SIGWINCH', () => {
  if (process.env.BENCH_PG_COUNT_FILE) writeFileSync(process.env.BENCH_PG_COUNT_FILE, String(n));
});
