/**
 * The SQL text of every provider call, for one schema. Each is sent as a NAMED prepared statement
 * (parsed once per connection, then only bound and executed); names carry the schema so one pool
 * can serve providers of several schemas.
 */
import { createHash } from 'node:crypto';
import { quoteSchema } from '../../schema/schema-name.js';

export interface Statement {
  name: string;
  text: string;
}

/** Statement names are identifiers (63 bytes at most): long schema names are replaced by a hash. */
function statementName(schema: string, key: string): string {
  const name = `ds_${schema}_${key}`;
  return name.length <= 63 ? name : `ds_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}_${key}`;
}

export function statements(schema: string) {
  const s = quoteSchema(schema);
  const stmt = (key: string, text: string): Statement => ({ name: statementName(schema, key), text });
  return {
    now: stmt('now', `SELECT ${s}.ds_now(NULL) AS r`),
    // One enqueue as the group commit serialises it: { now, msg, visibleAt }. A procedure that wakes
    // the fetcher before the WAL flush and returns after it (013_wake_before_flush.sql); outside a
    // transaction block, as every pooled query here is.
    enqueue: stmt('enqueue', `CALL ${s}.enqueue_orchestrator_message_wake_first($1::jsonb, NULL)`),
    // Group commit of enqueues: a jsonb array in, one { id } or { error } per message out (003_enqueue_batch.sql).
    enqueueMany: stmt('enqueue_many', `SELECT ${s}.enqueue_orchestrator_messages($1::jsonb) AS r`),
    fetchOrchestration: stmt('fetch_orch', `SELECT ${s}.fetch_orchestration_items($1::bigint, $2::bigint, $3::integer, $4::text) AS r`),
    // One named instance, for a wake that names the only new work (013_wake_before_flush.sql).
    fetchOrchestrationInstance: stmt('fetch_orch_one', `SELECT ${s}.fetch_orchestration_instance($1::bigint, $2::bigint, $3::text, $4::text) AS r`),
    // Group commits: a jsonb array of acks in, one outcome per ack out (schema/migrations/001_init.sql).
    ackOrchestrations: stmt('ack_orchs', `SELECT ${s}.ack_orchestration_items($1::jsonb) AS r`),
    abandonOrchestration: stmt('abandon_orch', `SELECT ${s}.abandon_orchestration_item($1::bigint, $2::uuid, $3::bigint, $4::boolean) AS r`),
    renewOrchestration: stmt('renew_orch', `SELECT ${s}.renew_orchestration_lock($1::bigint, $2::uuid, $3::bigint) AS r`),
    fetchWork: stmt('fetch_work', `SELECT ${s}.fetch_work_items($1::bigint, $2::bigint, $3::integer, $4::text) AS r`),
    // Commits without waiting for the WAL flush (007_unflushed_work_acks.sql says why nothing is lost);
    // locks the instances asked for (009_result_dispatch.sql).
    ackWorks: stmt('ack_works', `SELECT ${s}.ack_work_items_locking($1::jsonb) AS r`),
    abandonWork: stmt('abandon_work', `SELECT ${s}.abandon_work_item($1::bigint, $2::uuid, $3::bigint, $4::boolean) AS r`),
    renewWork: stmt('renew_work', `SELECT ${s}.renew_work_item_lock($1::bigint, $2::uuid, $3::bigint) AS r`),
    nextVisibleAt: stmt('next_visible', `SELECT ${s}.next_visible_at($1::text) AS r`),
    getInstance: stmt('get_instance', `SELECT ${s}.instance_json(i) AS r FROM ${s}.instances i WHERE i.instance_id = $1::text`),
    currentExecution: stmt('current_execution', `SELECT execution_id AS r FROM ${s}.instances WHERE instance_id = $1::text`),
    // Keyset pagination over (created_at, instance_id); null parameters switch a filter off.
    listInstances: stmt('list_instances', `
      SELECT ${s}.instance_json(i) AS r FROM ${s}.instances i
      WHERE ($1::text[] IS NULL OR i.status = ANY ($1::text[]))
        AND ($2::text IS NULL OR i.name = $2::text)
        AND ($3::bigint IS NULL OR i.created_at >= $3::bigint)
        AND ($4::bigint IS NULL OR i.created_at < $4::bigint)
        AND ($5::text IS NULL OR i.parent_instance_id = $5::text)
        AND ($6::bigint IS NULL OR (i.created_at, i.instance_id) > ($6::bigint, $7::text))
      ORDER BY i.created_at, i.instance_id
      LIMIT $8::integer`),
    history: `SELECT instance_id, execution_id, seq, type, data, at FROM ${s}.history
              WHERE instance_id = $1::text AND execution_id = $2::integer AND seq >= $3::integer ORDER BY seq`,
    hasPendingStart: stmt('pending_start', `
      SELECT EXISTS (SELECT 1 FROM ${s}.orchestrator_queue WHERE instance_id = $1::text AND kind = 'start')
         AND NOT EXISTS (SELECT 1 FROM ${s}.instances WHERE instance_id = $1::text) AS r`),
    queueDepths: stmt('queue_depths', `SELECT ${s}.queue_depths($1::bigint) AS r`),
    listDeadLetters: stmt('dead_letters', `
      SELECT jsonb_build_object('id', id::text, 'queue', queue, 'instanceId', instance_id, 'reason', reason,
                                'item', item, 'deadAt', dead_at) AS r
      FROM ${s}.dead_letters WHERE id > $1::bigint ORDER BY id LIMIT $2::integer`),
    deleteInstance: stmt('delete_instance', `SELECT ${s}.delete_instance($1::text, $2::boolean) AS r`),
    pruneExecutions: stmt('prune', `SELECT ${s}.prune_executions($1::text, $2::integer) AS r`),
    purge: stmt('purge', `SELECT ${s}.purge($1::bigint) AS r`),
    redrive: stmt('redrive', `SELECT ${s}.redrive_dead_letter($1::bigint, $2::bigint) AS r`),
  };
}

export type Statements = ReturnType<typeof statements>;
