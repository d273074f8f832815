/** `durastate terminate <instanceId>`: ask for an instance's termination (its next turn applies it). */
import type { CliCommand } from '../command.js';
import { withSession } from '../session.js';

export const terminateCommand: CliCommand = {
  name: 'terminate',
  summary: 'Terminate an instance (and its running children).',
  synopsis: 'terminate <instanceId> [--reason <text>] [options]',
  optionsHelp: `  --reason <text>       recorded with the termination`,
  options: { reason: { type: 'string' } },
  positionals: ['instanceId'],
  async run(args, out) {
    const instanceId = args.positional(0);
    const reason = args.string('reason');
    await withSession(args, ({ client }) => client.terminate(instanceId, reason));
    out.result({ instanceId, reason: reason ?? null }, () => `termination of ${instanceId} requested`);
  },
};
