/** `durastate start <name>`: queue the start of an instance; prints its id (the runtime's workers run it). */
import type { CliCommand } from '../command.js';
import { withSession } from '../session.js';

export const startCommand: CliCommand = {
  name: 'start',
  summary: 'Start an instance of an orchestration and print its instance id.',
  synopsis: 'start <name> [--input <json>] [--instance-id <id>] [--version <v>] [options]',
  optionsHelp: `  --input <json>        the orchestration's input (default: null)
  --instance-id <id>    choose the instance id (default: a random UUID)
  --version <v>         run this version (default: the newest registered where the first turn runs)`,
  options: { input: { type: 'string' }, 'instance-id': { type: 'string' }, version: { type: 'string' } },
  positionals: ['name'],
  async run(args, out) {
    const name = args.positional(0);
    const input = args.json('input', null); // parsed before connecting: bad JSON is a usage error
    const started = await withSession(args, ({ client }) =>
      client.start(name, input, { instanceId: args.string('instance-id'), version: args.string('version') }));
    // Just the id in human mode, so `id=$(durastate start order)` works.
    out.result({ instanceId: started.instanceId, name }, () => started.instanceId);
  },
};
