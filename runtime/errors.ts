// Errors the runtime gives its users at its edges.

/** A node or client configured against the cluster it joins (or with a setting out of range): says what to change. */
export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

/**
 * An input or create the runtime cannot store as given: it is not a value a journal record can hold (msgpack: no
 * integer beyond 64 bits, no cycles). Nothing was stored.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}
