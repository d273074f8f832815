/** `durastate status <instanceId>`: runtime status, state value, output and error of an instance. */
import { InstanceNotFoundError } from '../../../providers/errors.js';
import type { CliCommand } from '../command.js';
import { withSession } from '../session.js';

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

export const statusCommand: CliCommand = {
  name: 'status',
  summary: 'Show the status of an instance (pending while its start is queued).',
  synopsis: 'status <instanceId> [options]',
  positionals: ['instanceId'],
  async run(args, out) {
    const instanceId = args.positional(0);
    const status = await withSession(args, ({ client }) => client.getStatus(instanceId));
    if (!status) throw new InstanceNotFoundError(instanceId);
    out.result(status, () => [
      `instance   ${status.instanceId}`,
      `name       ${status.name ?? '-'}${status.version ? ` (version ${status.version})` : ''}`,
      `status     ${status.status}`,
      `state      ${JSON.stringify(status.stateValue)}`,
      `execution  ${status.executionId ?? '-'}`,
      `output     ${JSON.stringify(status.output)}`,
      ...(status.error ? [`error      ${status.error.code ?? status.error.name}: ${status.error.message}`] : []),
      `created    ${iso(status.createdAt)}`,
      `updated    ${iso(status.updatedAt)}`,
      `completed  ${iso(status.completedAt)}`,
    ].join('\n'));
  },
};
