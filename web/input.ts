// Steering: arrow keys and WASD on a keyboard, swipes on a touch screen. The pure mappings are exported for the
// specs; `bindSteering` attaches them to the page and reports directions only.
import type { Dir } from '../protocol/engine.ts';

const KEYS: Readonly<Record<string, Dir>> = {
  ArrowUp: 0, KeyW: 0,
  ArrowRight: 1, KeyD: 1,
  ArrowDown: 2, KeyS: 2,
  ArrowLeft: 3, KeyA: 3,
};

/** The direction of a key (by `KeyboardEvent.code`, so WASD sits where it should on any layout), or null. */
export function keyDirection(code: string): Dir | null {
  return Object.hasOwn(KEYS, code) ? KEYS[code] : null;
}

/** A swipe shorter than this (CSS px) is a tap, not a turn. */
export const MIN_SWIPE_PX = 24;

/** The direction of a swipe by its dominant axis, or null when it is too short. Screen y grows downwards, as the grid's. */
export function swipeDirection(dx: number, dy: number, min = MIN_SWIPE_PX): Dir | null {
  if (Math.max(Math.abs(dx), Math.abs(dy)) < min) return null;
  if (Math.abs(dx) > Math.abs(dy)) return dx > 0 ? 1 : 3;
  return dy > 0 ? 2 : 0;
}

export interface Steering {
  /** stop listening */
  unbind(): void;
}

/**
 * Listens for steering while `active()` holds: keys on the window (not while typing in a field), swipes on
 * `surface` outside its parts marked `data-no-steer`. A swipe turns as soon as it is long enough, and a long swipe
 * can turn again from where it turned, so an L-shaped gesture makes two turns.
 */
export function bindSteering(surface: HTMLElement, active: () => boolean, turn: (dir: Dir) => void): Steering {
  const onKey = (event: KeyboardEvent): void => {
    if (!active() || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target as HTMLElement | null;
    if (target && (target.tagName === 'INPUT' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA')) return;
    const dir = keyDirection(event.code);
    if (dir === null) return;
    event.preventDefault();
    if (!event.repeat) turn(dir);
  };
  let origin: { x: number; y: number; id: number } | null = null;
  const onStart = (event: TouchEvent): void => {
    if (!active()) return;
    // a tap on a button (a score row that follows a snake is one), a link or a field keeps its click; a touch in a
    // part marked data-no-steer is the page's (the score panel: on a phone the page scrolls there to its lower part)
    if ((event.target as Element | null)?.closest?.('button, a, input, select, textarea, [role="button"], [role="dialog"], [data-no-steer]')) return;
    const touch = event.changedTouches[0];
    if (touch) origin = { x: touch.clientX, y: touch.clientY, id: touch.identifier };
    event.preventDefault();
  };
  const onMove = (event: TouchEvent): void => {
    if (!active() || origin === null) return;
    event.preventDefault();
    for (const touch of Array.from(event.changedTouches)) {
      if (touch.identifier !== origin.id) continue;
      const dir = swipeDirection(touch.clientX - origin.x, touch.clientY - origin.y);
      if (dir !== null) {
        turn(dir);
        origin = { x: touch.clientX, y: touch.clientY, id: touch.identifier };
      }
    }
  };
  const onEnd = (): void => { origin = null; };
  window.addEventListener('keydown', onKey);
  surface.addEventListener('touchstart', onStart, { passive: false });
  surface.addEventListener('touchmove', onMove, { passive: false });
  surface.addEventListener('touchend', onEnd);
  surface.addEventListener('touchcancel', onEnd);
  return {
    unbind() {
      window.removeEventListener('keydown', onKey);
      surface.removeEventListener('touchstart', onStart);
      surface.removeEventListener('touchmove', onMove);
      surface.removeEventListener('touchend', onEnd);
      surface.removeEventListener('touchcancel', onEnd);
    },
  };
}
