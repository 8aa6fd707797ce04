/**
 * Events by trace, three times the trace id: a run's events through
 * `run_traces` and the run index, events outside any run (memory samples,
 * alerts) through their own trace index (migration 3). Here rather than
 * inline so a test can check its query plan.
 */
export const eventsByTraceSql = `SELECT payload FROM (
  SELECT ts, id, payload FROM events
  WHERE run_id IN (SELECT run_id FROM run_traces WHERE trace_id = ?) AND trace_id = ?
  UNION ALL
  SELECT ts, id, payload FROM events WHERE trace_id = ? AND run_id IS NULL
) ORDER BY ts, id`
