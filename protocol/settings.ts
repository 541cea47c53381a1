// Game settings: GAME.md "Settings". One place for the ranges and per-mode defaults, used by every entry point
// (the node's `solo`/`create`/`queue`, bin/snaketron-sim, the browser).

export const MODES = ['solo', 'duel', 'ffa', 'teams', 'custom'] as const;
export type Mode = (typeof MODES)[number];

export interface Settings {
  mode: Mode;
  width: number;
  height: number;
  tickMs: number;
  startLength: number;
  foodTarget: number;
  players: number;
}

interface Range { min: number; max: number }

export const RANGES: Readonly<Record<Exclude<keyof Settings, 'mode'>, Range>> = {
  width: { min: 10, max: 200 },
  height: { min: 10, max: 200 },
  tickMs: { min: 50, max: 1000 },
  startLength: { min: 2, max: 20 },
  foodTarget: { min: 1, max: 50 },
  players: { min: 1, max: 8 },
};

const PLAYERS: Readonly<Record<Mode, { min: number; max: number; default: number }>> = {
  solo: { min: 1, max: 1, default: 1 },
  duel: { min: 2, max: 2, default: 2 },
  ffa: { min: 2, max: 8, default: 4 },
  teams: { min: 4, max: 4, default: 4 },
  custom: { min: 1, max: 8, default: 2 },
};

/** How many players a game of this mode has: one number for solo, duel and teams, a range for ffa and custom. */
export function playersOf(mode: Mode): { min: number; max: number } {
  return { min: PLAYERS[mode].min, max: PLAYERS[mode].max };
}

export function defaultSettings(mode: Mode): Settings {
  return {
    mode,
    width: 40,
    height: 40,
    tickMs: 150,
    startLength: 4,
    foodTarget: mode === 'solo' ? 3 : 5,
    players: PLAYERS[mode].default,
  };
}

/** A rejected setting: `path` names the field (`settings.width`), `message` says what was expected. */
export class SettingsError extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

export type SettingsResult = { ok: true; settings: Settings } | { ok: false; error: SettingsError };

/**
 * Completes and checks settings from an untrusted source. Missing fields take the mode's defaults; a field of
 * the wrong type, an integer out of range or an unknown field is an error naming the field.
 */
export function validateSettings(input: unknown, path = 'settings'): SettingsResult {
  const fail = (field: string, message: string): SettingsResult => ({
    ok: false,
    error: new SettingsError(`${path}.${field}`, `${path}.${field} ${message}`),
  });
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, error: new SettingsError(path, `${path} must be a map`) };
  }
  const given = input as Record<string, unknown>;
  const mode = given.mode;
  if (typeof mode !== 'string' || !(MODES as readonly string[]).includes(mode)) {
    return fail('mode', `must be one of ${MODES.join(', ')}`);
  }
  const settings = defaultSettings(mode as Mode);
  for (const [field, value] of Object.entries(given)) {
    if (field === 'mode') continue;
    if (!Object.hasOwn(RANGES, field)) return fail(field, 'is not a setting');
    const range = RANGES[field as keyof typeof RANGES];
    if (typeof value !== 'number' || !Number.isInteger(value)) return fail(field, 'must be an integer');
    const limits = field === 'players' ? PLAYERS[mode as Mode] : range;
    if (value < limits.min || value > limits.max) {
      return fail(field, `must be between ${limits.min} and ${limits.max}`);
    }
    settings[field as keyof typeof RANGES] = value;
  }
  return { ok: true, settings };
}
