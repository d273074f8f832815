/** `durastate raise <instanceId> --event <json>`: send one of the machine's own events to an instance. */
import { UsageError, type CliCommand } from '../command.js';
import { withSession } from '../session.js';

export const raiseCommand: CliCommand = {
  name: 'raise',
  summary: 'Send an event (a JSON object with a "type") to an instance.',
  synopsis: 'raise <instanceId> --event <json> [options]',
  optionsHelp: `  --event <json>        the event, e.g. '{"type":"APPROVE"}' (required)`,
  options: { event: { type: 'string' } },
  positionals: ['instanceId'],
  async run(args, out) {
    const instanceId = args.positional(0);
    args.requiredString('event');
    const event = args.json('event', null);
    if (typeof event !== 'object' || event === null || Array.isArray(event) || typeof event.type !== 'string') {
      throw new UsageError('--event must be a JSON object with a string "type"');
    }
    await withSession(args, ({ client }) => client.raiseEvent(instanceId, event as { type: string }));
    out.result({ instanceId, event }, () => `raised ${event.type} to ${instanceId}`);
  },
};
