// The project's typecheck (`tsc -p tsconfig.json`, run by `make test`) includes bench/, but Colyseus is installed
// only in bench/colyseus/node_modules, for benchmarking, so that check cannot see its types. For it, these
// declarations stand for the slice of Colyseus 0.18 that the baseline uses, written to agree with the real ones.
// The baseline's own check, `npx tsc -p bench/colyseus` (after `npm --prefix bench/colyseus ci`), leaves this file
// out and checks the same code against the real packages.

declare module 'colyseus' {
  export interface Client {
    sessionId: string;
    send(type: string | number, message?: unknown): void;
  }
  export class Room {
    readonly roomId: string;
    clients: Client[];
    clock: { setTimeout(handler: () => void, ms: number): unknown };
    maxClients: number;
    patchRate: number | null;
    messages?: Record<string, unknown>;
    onCreate?(options: unknown): void | Promise<unknown>;
    onJoin?(client: Client, options?: unknown, auth?: unknown): void | Promise<unknown>;
    onDrop?(client: Client, code?: number): void | Promise<unknown>;
    onLeave?(client: Client, code?: number): void | Promise<unknown>;
    onDispose?(): void | Promise<unknown>;
    setTimestep(onTick?: (deltaTime: number) => void, delay?: number): void;
    broadcast(type: string | number, message?: unknown): void;
    allowReconnection(client: Client, seconds: number | 'manual'): unknown;
    disconnect(closeCode?: number): Promise<unknown>;
  }
  export function defineRoom(room: new () => Room): unknown;
  export function defineServer(options: { rooms: Record<string, unknown>; transport?: unknown; greet?: boolean }): {
    listen(port: number, hostname?: string): Promise<unknown>;
  };
}

declare module '@colyseus/uwebsockets-transport' {
  export class uWebSocketsTransport {
    constructor(options?: object);
  }
}

declare module '@colyseus/sdk' {
  export class Room {
    roomId: string;
    sessionId: string;
    reconnectionToken: string;
    reconnection: { enabled: boolean; maxRetries: number };
    onMessage<T = unknown>(type: string, callback: (payload: T) => void): () => void;
    onLeave(callback: (code: number, reason?: string) => void): unknown;
    onDrop(callback: (code: number, reason?: string) => void): unknown;
    onReconnect(callback: () => void): unknown;
    send(type: string, payload?: unknown): void;
    leave(consented?: boolean): Promise<number>;
  }
  export class Client {
    constructor(endpoint: string);
    joinOrCreate(roomName: string, options?: object): Promise<Room>;
    joinById(roomId: string, options?: object): Promise<Room>;
    reconnect(reconnectionToken: string): Promise<Room>;
  }
}
