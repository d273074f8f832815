import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deltaArgs } from '../arguments.js';
import { historyEvents, sampleDelta } from '../../validation/conformance/helpers.js';
import type { WorkItemArgs } from '../arguments.js';
import type { Json } from '../types.js';
import { deltaWire, withoutNulls, workItemsWire } from './wire.js';

test('a delta goes without its empty lists, its dead-letter reason when it dead-letters nothing, and its items\' null options', () => {
  const wire = deltaWire(deltaArgs(sampleDelta({
    history: historyEvents(1, 0, 1),
    workItems: [{ instanceId: 'a', executionId: 1, activityId: 'w#1', name: 'work', payload: null }],
    messages: [{ instanceId: 'b', kind: 'event', payload: null }],
  })));
  assert.equal(Object.keys(wire).sort(), ['history', 'instance', 'messages', 'workItems']);
  assert.not.ok('passedExecutionInputs' in wire.instance!);
  assert.equal(wire.workItems, [{ instanceId: 'a', executionId: 1, activityId: 'w#1', name: 'work', payload: null }], 'a null payload is sent');
  assert.equal(wire.messages, [{ instanceId: 'b', kind: 'event', payload: null }]);
  assert.equal(wire.instance!.output, null, 'the instance\'s own fields are sent as they are');
});

test('lists with entries, a reason with dead letters and set options are sent', () => {
  const args = deltaArgs(sampleDelta({
    history: historyEvents(1, 0, 1),
    timers: [{ timerId: 't#1', fireAt: 5, executionId: 1, payload: {} }],
    cancelTimers: ['t#0'], cancelActivities: ['w#0'], keepMessageIds: ['1'], deadLetterMessageIds: ['2'], deadLetterReason: 'poison',
    messages: [{ instanceId: 'b', kind: 'timerFired', payload: {}, executionId: 2, timerId: 'x', visibleAt: 9 }],
  }));
  const wire = deltaWire(args);
  assert.equal(wire.deadLetterReason, 'poison');
  for (const key of ['timers', 'cancelTimers', 'cancelActivities', 'keepMessageIds', 'deadLetterMessageIds', 'messages'] as const) assert.equal(wire[key], args[key], key);
});

test('withoutNulls drops only the named keys that are null', () => {
  assert.equal(withoutNulls({ a: null, b: null, c: 0 }, ['a', 'c']), { b: null, c: 0 });
});

const retry: Json = { maxAttempts: 3 };
/** Element `index` of fan-out `prefix`, one options object spread into every payload (as the engine did until 12-05). */
const element = (prefix: string, index: number, input: Json, options: { [key: string]: Json } = { retry, timeoutMs: 50 }, over: Partial<WorkItemArgs> = {}): WorkItemArgs => ({
  instanceId: 'a', executionId: 1, activityId: `${prefix}[${index}]`, name: 'work', payload: { input, ...options }, visibleAt: null, ...over,
});

test('consecutive elements of a fan-out go as one run: what they share once, then each input in order', () => {
  const plain: WorkItemArgs = { instanceId: 'a', executionId: 1, activityId: 'x', name: 'work', payload: { input: 0 }, visibleAt: null };
  const wire = workItemsWire([plain, element('f#1', 0, 'a'), element('f#1', 1, null), element('f#1', 2, { k: [1] }), plain]);
  assert.equal(wire, [
    { instanceId: 'a', executionId: 1, activityId: 'x', name: 'work', payload: { input: 0 } },
    { instanceId: 'a', executionId: 1, name: 'work', prefix: 'f#1', first: 0, options: { retry, timeoutMs: 50 }, inputs: ['a', null, { k: [1] }] },
    { instanceId: 'a', executionId: 1, activityId: 'x', name: 'work', payload: { input: 0 } },
  ]);
  const later = workItemsWire([element('g', 7, 1, undefined, { visibleAt: 99 }), element('g', 8, 2, undefined, { visibleAt: 99 })]);
  assert.equal(later, [{ instanceId: 'a', executionId: 1, name: 'work', prefix: 'g', first: 7, options: { retry, timeoutMs: 50 }, inputs: [1, 2], visibleAt: 99 }]);
  const engine = workItemsWire([element('h', 0, 'x', {}), element('h', 1, 'y', {})]);
  assert.equal(engine, [{ instanceId: 'a', executionId: 1, name: 'work', prefix: 'h', first: 0, options: {}, inputs: ['x', 'y'] }], "the engine's { input } payloads");
});

test('a run ends where the next item is not the next element with the very same options', () => {
  const cases: Array<[string, WorkItemArgs]> = [
    ['a gap in the index', element('f', 2, 1)],
    ['another fan-out', element('g', 1, 1)],
    ['an equal but distinct options value', element('f', 1, 1, { retry: { maxAttempts: 3 }, timeoutMs: 50 })],
    ['one option more', element('f', 1, 1, { retry, timeoutMs: 50, extra: true })],
    ['another activity', element('f', 1, 1, undefined, { name: 'other' })],
    ['another execution', element('f', 1, 1, undefined, { executionId: 2 })],
    ['another visibleAt', element('f', 1, 1, undefined, { visibleAt: 5 })],
    ['a payload without input', { ...element('f', 1, 1), payload: { retry, timeoutMs: 50, other: 1 } }],
    ['an index written with a leading zero', { ...element('f', 1, 1), activityId: 'f[01]' }],
  ];
  for (const [what, next] of cases) {
    const wire = workItemsWire([element('f', 0, 0), next]);
    assert.is(wire.length, 2, what);
    assert.ok(wire.every((w) => !('inputs' in w)), `${what}: no run of one`);
  }
});

test.run();
