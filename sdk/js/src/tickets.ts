// Where a room's joins come from: a fixed server and token (single node),
// or the cluster API, asked again before every full join because the room
// may have moved to another server meanwhile.

import type { Env } from "./env.js";

/** A Ticket says where to join, and with what. */
export interface Ticket {
  /** url is the server's base address (http(s)://host:port). */
  url: string;
  /** token is the join token (a JWT, docs/signalling.md). */
  token: string;
  /** server is the server's id, where known (cluster mode). */
  server?: string;
}

/** TicketSource gives a ticket for each full join. */
export type TicketSource = () => Promise<Ticket>;

/** TicketError is a refusal from the API, with its stable code. */
export class TicketError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status: number) {
    super(message);
    this.name = "TicketError";
    this.code = code;
    this.status = status;
  }
}

/** The refusals that asking again would not change. */
export const terminalCodes = new Set(["unauthorized", "token_expired", "no_capacity", "bad_request", "bad_room_name", "forbidden"]);

/** ClusterTicketParams are join's options that reach the API. */
export interface ClusterTicketParams {
  api: string;
  room: string;
  identity: string;
  publish: boolean;
  apiKey?: string;
  ttlSeconds?: number;
}

/**
 * clusterTickets asks the API for a join: POST /v1/rooms/{room}/join with
 * the apps' key, or, without a key, a dev API's GET /v1/dev/join
 * (docs/api.md). A browser app in production gets tickets from its own
 * backend instead (JoinOptions.tickets): the key must not reach browsers.
 */
export function clusterTickets(p: ClusterTicketParams, env: Env): TicketSource {
  const api = p.api.replace(/\/+$/, "");
  return async () => {
    let r: Response;
    if (p.apiKey) {
      r = await env.fetch(api + "/v1/rooms/" + encodeURIComponent(p.room) + "/join", {
        method: "POST",
        headers: { Authorization: "Bearer " + p.apiKey, "Content-Type": "application/json" },
        body: JSON.stringify({ identity: p.identity, publish: p.publish, ttl_seconds: p.ttlSeconds }),
      });
    } else {
      const q = new URLSearchParams({ room: p.room, identity: p.identity, publish: p.publish ? "1" : "0" });
      r = await env.fetch(api + "/v1/dev/join?" + q);
    }
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new TicketError(body.code || "internal", body.message || "the API answered " + r.status, r.status);
    return { url: body.signal_url, token: body.token, server: body.server };
  };
}

/** identityFromToken reads the sub claim of a join token (not verified: the server does that). */
export function identityFromToken(token: string): string {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return typeof claims.sub === "string" ? claims.sub : "";
  } catch {
    return "";
  }
}
