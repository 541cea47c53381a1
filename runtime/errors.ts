// Errors the runtime gives its users at its edges.

/** A node or client configured against the cluster it joins (or with a setting out of range): says what to change. */
export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}
