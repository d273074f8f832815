import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../clock.js';
import { TimerHeap } from './timer-heap.js';

/** Resolves on the next onDue call of a heap built with `firings`. */
function firings(): { onDue: () => void; next(): Promise<void>; count(): number } {
  let count = 0;
  let resolveNext = (): void => {};
  return {
    onDue: () => {
      count++;
      resolveNext();
    },
    next: () => new Promise((resolve) => (resolveNext = resolve)),
    count: () => count,
  };
}

// The heap's timers are unref'd by design (a pending wake-up must not keep a process alive),
// so this file holds the event loop open itself while it waits for firings.
const keepAlive = setInterval(() => {}, 1_000);
test.after(() => clearInterval(keepAlive));

test('equal times are kept once and fire once', async () => {
  const clock = new ManualClock();
  const due = firings();
  const heap = new TimerHeap(() => clock.now(), due.onDue);
  heap.add(clock.now() + 20);
  heap.add(clock.now() + 20);
  assert.is(heap.size, 1);
  await due.next();
  assert.is(due.count(), 1);
  assert.is(heap.size, 0);
});

test('entries fire earliest first, one firing per armed entry, whatever order they were added in', async () => {
  // The manual clock never moves, so each firing can release only the entry its real timer was armed for.
  const clock = new ManualClock();
  const due = firings();
  const heap = new TimerHeap(() => clock.now(), due.onDue);
  heap.add(clock.now() + 60);
  heap.add(clock.now() + 10);
  heap.add(clock.now() + 30);
  await due.next();
  assert.is(heap.size, 2);
  await due.next();
  assert.is(heap.size, 1);
  await due.next();
  assert.equal([heap.size, due.count()], [0, 3]);
});

test('the heap keeps its minimum on top through shuffled additions', async () => {
  // With the clock still, a firing also releases every entry below the armed one: a heap that armed
  // a non-minimum would release several entries at once. Correct order releases exactly one per firing.
  const clock = new ManualClock();
  const offsets = [17, 3, 25, 9, 1, 22, 14, 6, 19, 11, 2, 24, 8, 16, 5, 21, 12, 4, 23, 10, 18, 7, 15, 13, 20];
  const sizes: number[] = [];
  let allDone = (): void => {};
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const heap: TimerHeap = new TimerHeap(() => clock.now(), () => {
    sizes.push(heap.size);
    if (heap.size === 0) allDone();
  });
  for (const offset of offsets) heap.add(clock.now() + offset);
  await done;
  assert.equal(sizes, offsets.map((_, i) => offsets.length - 1 - i));
});

test('entries the clock already reached fire together with the armed one', async () => {
  const clock = new ManualClock();
  const due = firings();
  const heap = new TimerHeap(() => clock.now(), due.onDue);
  heap.add(clock.now() + 20);
  heap.add(clock.now() + 5_000);
  clock.advance(10_000); // e.g. the database clock estimate jumped forward
  await due.next();
  assert.equal([heap.size, due.count()], [0, 1]);
});

test('a delay beyond what setTimeout supports neither fires early nor warns', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  const due = firings();
  const heap = new TimerHeap(Date.now, due.onDue);
  heap.add(Date.now() + 40 * 24 * 3600_000);
  // Node would clamp an oversized delay to 1 ms: well within this pause.
  await new Promise((resolve) => setTimeout(resolve, 50));
  process.off('warning', onWarning);
  assert.equal(warnings, []);
  assert.equal([heap.size, due.count()], [1, 0]);
  heap.clear();
  assert.is(heap.size, 0);
});

test.run();
