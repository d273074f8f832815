import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bracketedRatios } from '../bench/bracketing.js';

test('each rate is divided by the mean of the yardsticks measured right before and right after it', () => {
  assert.equal(bracketedRatios([3000, 2000], [2000, 4000, 1000]), [1, 0.8]);
});

test('a yardstick missing on either side of a rate is an error, not a ratio to the wrong one', () => {
  assert.throws(() => bracketedRatios([3000, 2000], [2000, 4000]), /2 rates need 3 yardstick measurements around them, got 2/);
  assert.throws(() => bracketedRatios([3000], [2000, 4000, 1000]), /1 rates need 2/);
});

test.run();
