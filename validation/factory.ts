/**
 * What a provider author hands the validation suite: a factory that makes a fresh, isolated
 * provider for each case (its own schema, its own memory...), plus optional hooks.
 */
import type { Provider } from '../providers/contract.js';
import type { ManualClock } from '../providers/clock.js';

export interface ProviderUnderTest {
  provider: Provider;
  /**
   * The clock injected into `provider`, if it supports injection. Cases about lock expiry and
   * delayed visibility advance it instead of sleeping; without it those cases are skipped and reported.
   */
  clock?: ManualClock;
  /** Optional fault hooks (the built-in Postgres factory provides them). */
  faults?: ProviderFaults;
  /** Release everything the factory made (drop the schema, close pools). */
  close(): Promise<void>;
}

export interface ProviderFaults {
  /** Add a delay before every query/operation. */
  setQueryDelay(ms: number): void;
  /** Turn notifications off: long-polls must still find work by polling. */
  disableNotifications(): void;
  /** Drop the connection carrying the next ack after its request was sent. */
  dropConnectionDuringNextAck(): void;
}

export type ProviderFactory = () => Promise<ProviderUnderTest>;
