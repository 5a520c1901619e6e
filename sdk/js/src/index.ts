// @voicectl/client: the browser client of voicectl (docs/client-js.md).

import { browserEnv, type Env } from "./env.js";
import { Room, type RoomOptions } from "./room.js";
import { clusterTickets, type Ticket, type TicketSource } from "./tickets.js";

export { Room } from "./room.js";
export type { ConnectionState, DisconnectReason, RoomEvents, RoomOptions } from "./room.js";
export type { Participant, ConnectionQuality } from "./participant.js";
export type { QualityLevel } from "./wire.js";
export type { MediaPath } from "./leg.js";
export type { Ticket, TicketSource } from "./tickets.js";
export { TicketError } from "./tickets.js";
export { listDevices, LevelMeter } from "./devices.js";
export type { Env } from "./env.js";

/** ConnectOptions join one server (`voicectl serve`) with a token. */
export interface ConnectOptions extends RoomOptions {
  /** url is the server's address, e.g. https://voice.example.com (ws(s):// works too). */
  url: string;
  /**
   * token is a join token (`voicectl token create`, or your backend's), or
   * a function that fetches one: called before every full join, so a rejoin
   * hours into a call gets a fresh token.
   */
  token: string | (() => Promise<string>);
}

/** JoinOptions join a room through the cluster API (`voicectl api`). */
export interface JoinOptions extends RoomOptions {
  /** api is the cluster API's address. */
  api?: string;
  room: string;
  identity: string;
  /**
   * apiKey is the apps' key (auth.api_key). Keep it on servers: a browser
   * app passes tickets instead. Without either, a dev API's /v1/dev/join.
   */
  apiKey?: string;
  /** tickets asks your backend for {url, token} (from POST /v1/rooms/{room}/join); called before every full join. */
  tickets?: TicketSource;
}

/**
 * connect joins a single server's room with a token and resolves once
 * joined. A full rejoin (after a server's reconnect) uses the same token.
 */
export async function connect(opts: ConnectOptions): Promise<Room> {
  const room = createRoom(opts);
  await room.start();
  return room;
}

/**
 * join joins a room in cluster mode: it asks the API (or your backend,
 * through tickets) where the room lives and for a token, and asks again
 * whenever the room's server changes or dies. It resolves once joined.
 */
export async function join(opts: JoinOptions): Promise<Room> {
  const room = createRoom(opts);
  await room.start();
  return room;
}

/**
 * createRoom makes connect's or join's Room without starting it: listen to
 * its events first, then call start().
 */
export function createRoom(opts: ConnectOptions | JoinOptions): Room {
  const env: Env = opts.env ?? browserEnv();
  if ("token" in opts && opts.token) {
    const { url, token } = opts;
    const tickets = async (): Promise<Ticket> => ({ url, token: typeof token === "function" ? await token() : token });
    return new Room({ ...opts, env, cluster: false, tickets });
  }
  opts = opts as JoinOptions;
  const publish = opts.publish !== false;
  const tickets =
    opts.tickets ??
    clusterTickets({ api: opts.api ?? "", room: opts.room, identity: opts.identity, publish, apiKey: opts.apiKey }, env);
  return new Room({ ...opts, env, cluster: true, tickets, identity: opts.identity });
}
