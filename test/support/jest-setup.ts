/**
 * Runs in every e2e suite before its tests. Suites boot apps and servers on a shared, noisy machine, and what a
 * test bounds it asserts itself (see timing.ts): Jest's own limit is only a backstop against a hang, so it is
 * raised from 5 s for every test and hook. (`testTimeout` in jest.config.js is global-only: a project ignores it.)
 */
jest.setTimeout(30_000);
