/** Every case of the suite: conformance, then the property-based half, then fault injection. */
import type { ValidationCase, ValidationOptions } from './case.js';
import { conformanceCases } from './conformance/index.js';
import { propertyCases } from './properties/index.js';
import { faultCases } from './faults/index.js';

export function allCases(options: ValidationOptions): ValidationCase[] {
  // Fault cases need the factory's fault hooks whether or not they say so.
  const faults = faultCases(options).map((c) => ({ ...c, needsFaults: true }));
  return [...conformanceCases(), ...propertyCases(options), ...faults];
}
