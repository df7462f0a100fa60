import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fleetStatusTable, measureFleetStatus } from '../../bench/fleet-status.bench.ts';

// bench/fleet-status.bench.ts at 20 clusters (the bench itself runs 1,000), so it cannot rot:
// every reader it times returns all 20 reports verified and Converged (the gate passes), a warm
// read sends one HEAD per cluster, and the table prints every figure beside its floors.

test('the fleet-status bench at 20 clusters: every reader sees 20 verified Converged reports, a warm read is a HEAD per cluster, the table has the floors', { timeout: 300_000 }, async () => {
  const n = 20;
  const result = await measureFleetStatus({ clusters: n });
  for (const [reader, count] of Object.entries(result.checks)) assert.equal(count, n, reader);
  assert.ok(Object.keys(result.checks).length >= 12, Object.keys(result.checks).join(', '));
  const row = (name: string) => result.rows.find((r) => r.measure === name)!;
  assert.equal(row(`floor: ${n} bare HEADs of the tags`).requests, n);
  assert.equal(row('readStatusReports cold').requests, 2 * n, 'cold: a manifest and a blob per report (below the listing threshold)');
  assert.equal(row('readStatusReports warm').requests, n, 'warm: one HEAD per report');
  // status and the gate read more than the reports (the stage records), but the reports cost a HEAD each when warm.
  assert.ok(row('promote status (library) warm').requests < row('promote status (library) cold').requests);
  assert.ok(row('converged gate (plan production, library) warm').requests < row('converged gate (plan production, library) cold').requests);
  const table = fleetStatusTable(result);
  for (const r of result.rows) assert.ok(table.includes(r.measure), r.measure);
  assert.match(table, /x HEAD floor/);
});
