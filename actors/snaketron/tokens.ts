// Guest tokens: `userId.name.expiresAt.signature`, HMAC-SHA256 with the cluster's secret, so any node accepts
// a token any other node issued.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { TOKEN_TTL_MS } from '../../protocol/messages.ts';

export interface TokenUser {
  userId: string;
  name: string;
}

export class TokenSigner {
  constructor(private readonly secret: string) {}

  sign(user: TokenUser, now = Date.now()): string {
    const body = `${user.userId}.${Buffer.from(user.name).toString('base64url')}.${now + TOKEN_TTL_MS}`;
    return `${body}.${this.mac(body)}`;
  }

  /** The user a token names, or why it is refused. */
  verify(token: string, now = Date.now()): TokenUser | { error: string } {
    const parts = token.split('.');
    if (parts.length !== 4) return { error: 'token is malformed' };
    const [userId, name64, expires, mac] = parts;
    const body = `${userId}.${name64}.${expires}`;
    const expected = Buffer.from(this.mac(body));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { error: 'token signature is not valid' };
    if (!(Number(expires) > now)) return { error: 'token has expired; send hello without a token for a new guest' };
    return { userId, name: Buffer.from(name64, 'base64url').toString() };
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}

export function newUserId(): string {
  return `u_${randomBytes(8).toString('hex')}`;
}

export function guestName(): string {
  return `guest-${randomBytes(2).toString('hex').toUpperCase()}`;
}
