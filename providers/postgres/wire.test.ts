import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deltaArgs } from '../arguments.js';
import { historyEvents, sampleDelta } from '../../validation/conformance/helpers.js';
import { deltaWire, withoutNulls } from './wire.js';

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

test.run();
