/** Time is injected so deadlines, windows and jobs can be tested by moving a clock. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export class TestClock implements Clock {
  private current: number;
  constructor(start: Date | string = '2026-11-11T02:00:00.000Z') {
    this.current = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): Date {
    this.current += ms;
    return this.now();
  }
  set(at: Date | string): void {
    this.current = new Date(at).getTime();
  }
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/**
 * Calendar arithmetic in the platform's time zone (UTC offset in minutes; China is +480):
 * quotas reset at local midnight and data-key buckets are local months.
 */
export function localDay(at: Date, offsetMinutes: number): string {
  return new Date(at.getTime() + offsetMinutes * MINUTE).toISOString().slice(0, 10);
}

export function localMonth(at: Date, offsetMinutes: number): string {
  return localDay(at, offsetMinutes).slice(0, 7);
}

/** The first instant of the next local day (so a day's last moment is 23:59:59.999 local). */
export function startOfNextLocalDay(at: Date, offsetMinutes: number): Date {
  const midnightUtc = Date.parse(`${localDay(at, offsetMinutes)}T00:00:00.000Z`);
  return new Date(midnightUtc - offsetMinutes * MINUTE + DAY);
}

/** The first instant of a local day given as `YYYY-MM-DD`. */
export function startOfLocalDay(day: string, offsetMinutes: number): Date {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) - offsetMinutes * MINUTE);
}
