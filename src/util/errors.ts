/**
 * An error caused by the user's input (a file, an argument, a setting), as opposed to a bug.
 * The message always names the file and the problem in one line; the CLI prints it alone
 * (exit 1) and the extension shows it as-is.
 */
export class InputError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'InputError';
  }
}

/** A usage error (bad command-line arguments); the CLI exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function isInputError(e: unknown): e is InputError {
  return e instanceof Error && e.name === 'InputError';
}
