import { isReadOnly, readOnlyReconnects } from './redis-clients';

describe('READONLY handling', () => {
  const refused = new Error("READONLY You can't write against a read only replica.");

  it('recognizes a write refused by a replica, a script too (Redis 7, and before 7 after a dash)', () => {
    expect(isReadOnly(refused)).toBe(true);
    expect(isReadOnly(new Error("READONLY You can't write against a read only replica. script: 47c7, on @user_script:8."))).toBe(true);
    expect(isReadOnly(new Error("ERR Error running script (call to f_47c7): @user_script:8: -READONLY You can't write against a read only replica."))).toBe(true);
    expect(isReadOnly(new Error('OOM command not allowed when used memory > maxmemory.'))).toBe(false);
    expect(isReadOnly(new Error('ERR value READONLY is not an integer'))).toBe(false);
  });

  it('asks for a reconnect on READONLY, at most once every 2 s, and never on other errors', () => {
    jest.useFakeTimers({ now: 0, doNotFake: ['nextTick', 'setImmediate'] });
    try {
      const decide = readOnlyReconnects();
      expect(decide(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(false);
      expect(decide(refused)).toBe(1);
      jest.advanceTimersByTime(1_000);
      expect(decide(refused)).toBe(false);
      jest.advanceTimersByTime(1_001);
      expect(decide(refused)).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  });
});
