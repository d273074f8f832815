/** `durastate history <instanceId>`: the history events of one execution, in order. */
import type { CliCommand } from '../command.js';
import { withSession } from '../session.js';

export const historyCommand: CliCommand = {
  name: 'history',
  summary: 'List the history events of an instance (one line each; --json: a JSON array).',
  synopsis: 'history <instanceId> [--execution <n>] [options]',
  optionsHelp: `  --execution <n>       which execution (default: the current one)`,
  options: { execution: { type: 'string' } },
  positionals: ['instanceId'],
  async run(args, out) {
    const instanceId = args.positional(0);
    const executionId = args.string('execution') === undefined ? undefined : args.integer('execution', 1);
    await withSession(args, async ({ client }) => {
      // A queued start has no history yet; the provider only knows created instances.
      if ((await client.getStatus(instanceId))?.status === 'pending') return void out.result([], () => '(pending: no history yet)');
      // Streamed: a long history is never held in memory at once. The JSON array opens with its
      // first element, so an error before it (instance not found) leaves stdout a single error document.
      let count = 0;
      for await (const event of client.history(instanceId, executionId === undefined ? {} : { executionId })) {
        if (out.json) process.stdout.write(`${count === 0 ? '[' : ','}\n${JSON.stringify(event)}`);
        else process.stdout.write(`${event.executionId}.${event.seq}  ${new Date(event.at).toISOString()}  ${event.type.padEnd(10)} ${JSON.stringify(event.data)}\n`);
        count++;
      }
      if (out.json) process.stdout.write(count === 0 ? '[]\n' : '\n]\n');
    });
  },
};
