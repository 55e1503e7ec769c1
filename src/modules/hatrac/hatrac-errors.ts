/** A Hatrac answer other than success: sent as plain text `<message>\n` with its status (reference §2.5). */
export class HatracError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new HatracError(404, `${what} not found.`);
export const conflict = (message: string) => new HatracError(409, message);
export const badRequest = (message: string) => new HatracError(400, message);
