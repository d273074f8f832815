/**
 * Fault hooks of the Postgres provider (validation/factory.ts ProviderFaults), so the validation
 * suite and our tests can slow queries down, silence notifications, and cut the connection that
 * carries an ack after the request went out.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProviderFaults } from '../../validation/factory.js';
import type { Notifier } from './notifier.js';

export class PostgresFaults implements ProviderFaults {
  private queryDelayMs = 0;
  private dropNextAck = false;

  constructor(private readonly notifier: Notifier) {}

  setQueryDelay(ms: number): void {
    this.queryDelayMs = Math.max(0, ms);
  }

  disableNotifications(): void {
    this.notifier.setListening(false);
  }

  dropConnectionDuringNextAck(): void {
    this.dropNextAck = true;
  }

  /** Awaited before every query. */
  async beforeQuery(): Promise<void> {
    if (this.queryDelayMs > 0) await sleep(this.queryDelayMs);
  }

  /** True once after dropConnectionDuringNextAck(): the caller must cut this ack's connection. */
  takeAckDrop(): boolean {
    const drop = this.dropNextAck;
    this.dropNextAck = false;
    return drop;
  }
}
