/**
 * `durastate/validation`: check any Provider against the contract.
 *
 *   await runProviderValidation(myFactory, { name: 'my-provider' });
 *
 * runs every case (conformance, property-based, fault injection) as uvu suites against fresh
 * providers from the factory, and resolves with a JSON-able report.
 */
export * from './factory.js';
export type {
  CaseContext, CaseReport, CaseStatus, ValidationCase, ValidationOptions, ValidationReport,
} from './case.js';
export { runCases, runProviderValidation, fullName } from './run.js';
export { allCases } from './cases.js';
export { conformanceCases } from './conformance/index.js';
export * as conformanceHelpers from './conformance/helpers.js';
