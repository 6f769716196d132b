import { Logger } from '@nestjs/common';
import { HealthTransitions, TerminusLogger } from './health-transitions';

const result = (database: 'up' | 'down', lifecycle: 'up' | 'down' = 'up') => ({
  details: { lifecycle: { status: lifecycle }, database: { status: database, ...(database === 'down' ? { message: 'timeout' } : {}) } },
});

describe('HealthTransitions', () => {
  let warn: jest.SpyInstance;
  let log: jest.SpyInstance;

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('logs going down once, reminds every five minutes, and logs the recovery with how long it lasted', () => {
    const t = new HealthTransitions();
    t.saw('ready', result('up'), 0);
    expect(warn).not.toHaveBeenCalled();
    t.saw('ready', result('down'), 1_000);
    for (let at = 2_000; at < 300_000; at += 5_000) {
      t.saw('ready', result('down'), at);
    }
    expect(warn.mock.calls).toEqual([[{ check: 'database', endpoint: 'ready', status: 'down', message: 'timeout' }, 'database is down']]);
    t.saw('ready', result('down'), 301_000);
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[1]).toEqual([expect.objectContaining({ downForMs: 300_000 }), 'database is still down']);
    t.saw('ready', result('up'), 310_000);
    t.saw('ready', result('up'), 315_000);
    expect(log.mock.calls).toEqual([[{ check: 'database', endpoint: 'ready', downForMs: 309_000 }, 'database is up again']]);
  });

  it('keeps each endpoint apart, and logs draining for shutdown at info', () => {
    const t = new HealthTransitions();
    t.saw('ready', result('down'), 0);
    t.saw('details', result('down'), 0);
    expect(warn).toHaveBeenCalledTimes(2);
    t.saw('ready', result('up', 'down'), 1);
    expect(log.mock.calls.map((c) => c[1])).toEqual(['lifecycle is down', 'database is up again']);
  });

  it('Terminus logs its own lines (shutdown), but not its error on each failed probe', () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const terminus = new TerminusLogger();
    terminus.log('Timeout reached, shutting down now');
    terminus.error('Health Check has failed! {"database":{"status":"down"}}');
    terminus.error('It seems like "HttpService" is not available');
    expect(log.mock.calls).toEqual([['Timeout reached, shutting down now']]);
    expect(error.mock.calls).toEqual([['It seems like "HttpService" is not available']]);
  });
});
