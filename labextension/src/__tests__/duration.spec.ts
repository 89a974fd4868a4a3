/**
 * Durations (issue 13 item 14): the frontend parses and formats exactly as the
 * server does; both are checked against one table, tests/duration_examples.json
 * (tests/test_first_hour.py checks the Python side).
 */
import * as fs from 'fs';
import * as path from 'path';

import { DURATION_HELP, DurationError, formatDuration, formatElapsed, parseDuration } from '../duration';

interface IExamples {
  parse: { text: string; seconds: number }[];
  invalid: string[];
  format: { seconds: number; text: string }[];
}

const EXAMPLES = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'tests', 'duration_examples.json'), 'utf-8')
) as IExamples;

describe('durations, as the server reads and writes them', () => {
  it.each(EXAMPLES.parse.map(c => [c.text, c.seconds]))('parses %j as %d s', (text, seconds) => {
    expect(parseDuration(text as string)).toBe(seconds);
  });

  it.each(EXAMPLES.invalid.map(t => [t]))('refuses %j, saying how to write one', text => {
    expect(() => parseDuration(text)).toThrow(DurationError);
    try {
      parseDuration(text);
    } catch (error) {
      expect((error as DurationError).hint).toBe(DURATION_HELP);
      expect(DURATION_HELP).toContain('15m');
    }
  });

  it.each(EXAMPLES.format.map(c => [c.seconds, c.text]))('formats %d s as %j and reads it back', (seconds, text) => {
    expect(formatDuration(seconds as number)).toBe(text);
    expect(parseDuration(text as string)).toBe(seconds);
  });

  it('the table covers both sides', () => {
    expect(EXAMPLES.parse.length).toBeGreaterThan(10);
    expect(EXAMPLES.invalid.length).toBeGreaterThan(10);
    expect(EXAMPLES.format.length).toBeGreaterThan(5);
  });
});

describe('elapsed times in the same form, to two units', () => {
  it.each([
    [0, '0s'],
    [-3, '0s'],
    [45, '45s'],
    [125, '2m5s'],
    [3 * 3600 + 60, '3h1m'],
    [3 * 3600 + 5, '3h'],
    [2 * 86400 + 3600 + 17, '2d1h']
  ])('%d s reads %j', (seconds, text) => {
    expect(formatElapsed(seconds)).toBe(text);
  });
});
