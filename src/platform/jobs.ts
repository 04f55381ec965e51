import type { Logger } from 'pino';

export interface Job {
  name: string;
  /** Does one sweep; returns how many items it changed. Must be safe to run on every node at once. */
  run(): Promise<number>;
}

/**
 * Runs clock-driven sweeps (unpaid-order cancellation, auto-confirmation, …) on an interval.
 * Each sweep is a set-based, idempotent SQL use case that claims rows with SKIP LOCKED, so
 * every node can run the scheduler; a job-queue library would add a broker and nothing
 * these sweeps need. Tests call `runNow` after moving the clock instead of waiting.
 */
export class JobScheduler {
  private readonly jobs = new Map<string, Job>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(private readonly log: Logger) {}

  register(job: Job): void {
    if (this.jobs.has(job.name)) throw new Error(`duplicate job ${job.name}`);
    this.jobs.set(job.name, job);
  }

  start(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async runNow(name?: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const job of this.jobs.values()) {
      if (name && job.name !== name) continue;
      out[job.name] = await job.run();
    }
    if (name && !(name in out)) throw new Error(`no job named ${name}`);
    return out;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const job of this.jobs.values()) {
        try {
          const n = await job.run();
          if (n > 0) this.log.info({ job: job.name, changed: n }, 'job sweep');
        } catch (err) {
          this.log.error({ job: job.name, err }, 'job sweep failed');
        }
      }
    } finally {
      this.busy = false;
    }
  }
}
