// What a Node.js dashboard does through node-postgres (`pg`), for
// tests/it/pgwire/drivers.rs: connect with SCRAM, a parameterized query, and statements
// that must stay refused. `pg` is installed next to this file by .ci/run
// (npm install --prefix tests/it/pgwire/clients). Connection settings come from the
// environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, read by `pg` itself);
// MALGRUPP_KOMMUN and MALGRUPP_PERIOD name the filter. Prints one JSON object.

const { Client } = require("pg");

const REFUSED = [
  "CREATE TABLE x (a int)",
  "DROP TABLE kartlaggning",
  "INSERT INTO kartlaggning (kommun) VALUES ('0880')",
  "SELECT * FROM forsorjningsstod",
];

async function main() {
  const client = new Client({ database: "malgrupp" });
  await client.connect();
  const out = { pg: require("pg/package.json").version };
  out.server_version = (await client.query("show server_version")).rows[0].server_version;
  const sum = await client.query(
    "select sum(antal) as total from kartlaggning where kommun = $1 and period = $2 and antal_skyddad = $3",
    [process.env.MALGRUPP_KOMMUN, process.env.MALGRUPP_PERIOD, false],
  );
  // bigint arrives as a string: JavaScript numbers cannot hold every int8.
  out.sum = sum.rows[0].total === null ? null : Number(sum.rows[0].total);
  const rows = await client.query(
    "select kommun, period, antal from kartlaggning where kommun = $1 and period = $2",
    [process.env.MALGRUPP_KOMMUN, process.env.MALGRUPP_PERIOD],
  );
  out.rows = rows.rows.length;
  out.refused = {};
  for (const sql of REFUSED) {
    try {
      await client.query(sql);
      out.refused[sql] = null;
    } catch (e) {
      out.refused[sql] = e.code || String(e);
    }
  }
  await client.end();
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
