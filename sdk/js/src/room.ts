// Room is a call as an app sees it: participants and events, a microphone,
// and every recovery the protocol asks of a client done underneath (resume,
// ICE restart, reconnect, move).

import { LevelMeter, listDevices, openMicrophone } from "./devices.js";
import { Emitter } from "./emitter.js";
import type { Env } from "./env.js";
import { Leg, type LegHandlers, type LegLoss, type MediaPath } from "./leg.js";
import type { ConnectionQuality, Participant } from "./participant.js";
import { TicketError, identityFromToken, terminalCodes, type Ticket, type TicketSource } from "./tickets.js";
import type { ServerMessage } from "./wire.js";

/** ConnectionState is where a room stands, for a status line. */
export type ConnectionState = "connecting" | "joined" | "connected" | "reconnecting" | "moving" | "disconnected";

/** DisconnectReason says why a room ended: `left` (the app left) or the server's error code. */
export interface DisconnectReason {
  code: string;
  message: string;
}

/** The events of a Room. */
export interface RoomEvents {
  connectionStateChanged: (state: ConnectionState) => void;
  participantJoined: (p: Participant) => void;
  participantLeft: (p: Participant) => void;
  /** activeSpeakersChanged: who speaks now, loudest first; empty when silent. */
  activeSpeakersChanged: (speakers: Participant[]) => void;
  muteChanged: (p: Participant) => void;
  connectionQualityChanged: (p: Participant, q: ConnectionQuality) => void;
  /** reconnecting: the media or signalling went down; the room recovers by itself. */
  reconnecting: (reason: string) => void;
  /** reconnected: media and signalling are up again. */
  reconnected: () => void;
  /** moved: the room now lives on another server (the call went on). */
  moved: (to: { server: string; url: string }) => void;
  /** disconnected: the room ended and will not recover; the app may start a new one. */
  disconnected: (reason: DisconnectReason) => void;
  /** trackSubscribed: a peer's audio arrived (the room plays it unless RoomOptions.audio is false). */
  trackSubscribed: (track: MediaStreamTrack, participant: Participant | undefined) => void;
  /** microphoneFailed: no microphone could be opened; the room joined as a listener. */
  microphoneFailed: (err: Error) => void;
  /** error: a request the server refused without ending the room. */
  error: (e: DisconnectReason) => void;
}

/** RoomOptions are what connect and join share. */
export interface RoomOptions {
  /** publish the microphone (default true); false joins as a listener. */
  publish?: boolean;
  /** microphone is the deviceId to open (default: the browser's default). */
  microphone?: string;
  /** audio plays peers' audio through hidden audio elements in this element, or document.body (default true). */
  audio?: boolean | HTMLElement;
  /** dtx: Opus DTX, a packet per 400 ms in silence (default true). */
  dtx?: boolean;
  /** red: Opus with redundancy (RFC 2198) where browser and server have it (default true). */
  red?: boolean;
  /** iceTransportPolicy "relay" sends media only through TURN. */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** env replaces the browser's APIs (tests). */
  env?: Env;
}

/** RoomParams are a room's options with where its tickets come from. */
export interface RoomParams extends RoomOptions {
  tickets: TicketSource;
  /** cluster: ask the tickets again before every full join (the room may have moved). */
  cluster: boolean;
  /** identity is this client's, for its own Participant (read from the token when absent). */
  identity?: string;
  env: Env;
}

/**
 * How long the old server's session is kept after a move once the new one
 * joined, if the new media does not connect first (the server's
 * cluster.move_grace is 10 s).
 */
const drainAfterMs = 8000;

/** Room is one call. Make one with connect or join. */
export class Room extends Emitter<RoomEvents> {
  /** name is the room's name (known once joined). */
  name = "";
  /** server is the id of the room's server (cluster mode). */
  server = "";
  state: ConnectionState = "connecting";
  muted = false;
  publishing: boolean;
  /** reconnecting: a recovery is under way. */
  reconnecting = false;
  /** rejoins counts full joins after the first (moves included). */
  rejoins = 0;
  /** rejoinReason says why the last full join was made. */
  rejoinReason = "";

  private readonly p: RoomParams;
  private readonly peers = new Map<string, Participant>();
  private leg: Leg | null = null;
  private pending: Leg | null = null; // the new home's leg during a move, until it joined
  private draining: Leg | null = null; // the old home's leg after a move, until the new media is up
  private drainTimer: ReturnType<typeof setTimeout> | null = null;
  private rejoinTimer: ReturnType<typeof setTimeout> | null = null;
  private ticket: Ticket | null = null;
  private retry = 0;
  private everJoined = false;
  private left = false;
  private mic: MediaStreamTrack | null = null;
  private micAsked = false;
  private meter: LevelMeter | null = null;
  private counters = { restarts: 0, resumes: 0, duplicates: 0 };
  private audioEls = new Map<Leg, HTMLAudioElement[]>();
  private started: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private readonly handlers: LegHandlers;

  constructor(p: RoomParams) {
    super();
    this.p = p;
    this.publishing = p.publish !== false;
    this.handlers = {
      message: (leg, msg) => this.onMessage(leg, msg),
      track: (leg, ev) => this.onTrack(leg, ev),
      health: (leg) => this.onHealth(leg),
      lost: (leg, loss) => this.onLost(leg, loss),
      negotiationFailed: (leg, err) => {
        if (leg === this.leg) this.emit("error", { code: "negotiation_failed", message: "Negotiation failed: " + err });
      },
    };
  }

  /** start joins; it resolves once the room is joined, and rejects if the room ends first. */
  start(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => (this.started = { resolve, reject }));
    this.connectLeg();
    return done;
  }

  /** participants are everyone in the room, this client included, by peer id. */
  get participants(): ReadonlyMap<string, Participant> {
    return this.peers;
  }

  /** localParticipant is this client's own peer (undefined until joined). */
  get localParticipant(): Participant | undefined {
    return this.leg ? this.peers.get(this.leg.peerId) : undefined;
  }

  // Diagnostics, for the page's tests and a curious developer.

  /** pc is the current RTCPeerConnection. */
  get pc(): RTCPeerConnection | null {
    return this.leg?.pc ?? null;
  }
  get peerId(): string {
    return this.leg?.peerId ?? "";
  }
  /** connected: the media connection (ICE and DTLS) is up. */
  get connected(): boolean {
    return !!this.leg?.connected;
  }
  get iceState(): string {
    return this.leg?.iceState ?? "closed";
  }
  /** path is the media's selected candidate pair. */
  get path(): MediaPath | null {
    return this.leg?.path ?? null;
  }
  /** connectMs is the time from opening the socket to media connected, on the current server. */
  get connectMs(): number {
    return this.leg?.connectMs ?? 0;
  }
  /** restarts counts the ICE restarts asked for. */
  get restarts(): number {
    return this.counters.restarts + (this.leg?.restarts ?? 0);
  }
  /** resumes counts the signalling sessions resumed on a new WebSocket. */
  get resumes(): number {
    return this.counters.resumes + (this.leg?.resumes ?? 0);
  }
  /** duplicates counts server messages dropped as already seen (after a resume). */
  get duplicates(): number {
    return this.counters.duplicates + (this.leg?.outbox.duplicates ?? 0);
  }
  get seqIn(): number {
    return this.leg?.outbox.seqIn ?? 0;
  }
  get seqOut(): number {
    return this.leg?.outbox.seqOut ?? 0;
  }
  /** microphone is the track published (null for a listener). */
  get microphone(): MediaStreamTrack | null {
    return this.mic;
  }

  /** setMicrophoneEnabled mutes or unmutes: the server stops forwarding, and the track sends silence. */
  async setMicrophoneEnabled(enabled: boolean): Promise<void> {
    if (!this.publishing) throw new Error("voicectl: this room does not publish a microphone");
    this.muted = !enabled;
    if (this.mic) this.mic.enabled = enabled;
    const me = this.localParticipant;
    if (me && me.muted !== this.muted) {
      me.muted = this.muted;
      this.emit("muteChanged", me);
    }
    this.leg?.send({ type: "mute", muted: this.muted });
  }

  /** setMicrophoneDevice switches to another microphone, on the same call: nothing is renegotiated. */
  async setMicrophoneDevice(deviceId: string): Promise<void> {
    if (!this.publishing) throw new Error("voicectl: this room does not publish a microphone");
    const track = await openMicrophone(this.p.env.mediaDevices, deviceId);
    track.enabled = !this.muted;
    const old = this.mic;
    for (const leg of [this.leg, this.pending, this.draining]) {
      for (const s of leg?.pc?.getSenders() ?? []) if (s.track === old) await s.replaceTrack(track);
    }
    this.mic = track;
    old?.stop();
    this.meter?.close();
    this.meter = null;
  }

  /** listDevices lists the microphones. */
  listDevices(): Promise<MediaDeviceInfo[]> {
    return listDevices(this.p.env.mediaDevices);
  }

  /** microphoneLevel is what the microphone picks up now, muted or not: 0 to 1 (0 for a listener). */
  microphoneLevel(): number {
    if (!this.mic || typeof AudioContext === "undefined") return 0;
    if (!this.meter) this.meter = new LevelMeter(this.mic);
    return this.meter.level();
  }

  /** restartICE asks for new ICE candidates now: after a network change the app heard of. */
  restartICE(): void {
    this.leg?.restartICE();
  }

  /** reconnect joins again from scratch (in cluster mode through the API). */
  reconnect(): void {
    this.rejoin(0, "asked by the app");
  }

  /** disconnect leaves the room. */
  disconnect(): void {
    if (this.left) return;
    this.end({ code: "left", message: "left the room" }, true);
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit("connectionStateChanged", s);
  }

  private markReconnecting(reason: string): void {
    if (!this.reconnecting) {
      this.reconnecting = true;
      this.emit("reconnecting", reason);
    }
    this.setState("reconnecting");
  }

  private async connectLeg(): Promise<void> {
    this.rejoinTimer = null;
    if (this.left) return;
    try {
      if (!this.ticket) this.ticket = await this.p.tickets();
    } catch (e) {
      const code = e instanceof TicketError ? e.code : "";
      const message = String((e as Error)?.message || e);
      if (this.p.cluster && !terminalCodes.has(code)) this.rejoin(1000, "api: " + message); // the API may be placing the room
      else this.end({ code: code || "unavailable", message }, false);
      return;
    }
    if (this.ticket.server) this.server = this.ticket.server;
    if (this.publishing && !this.micAsked) {
      this.micAsked = true;
      try {
        this.mic = await openMicrophone(this.p.env.mediaDevices, this.p.microphone);
      } catch (e) {
        this.publishing = false;
        this.emit("microphoneFailed", e as Error);
      }
    }
    if (this.left) return;
    this.leg = this.newLeg(this.ticket);
    this.leg.open();
  }

  private newLeg(t: Ticket): Leg {
    return new Leg({
      url: t.url,
      token: t.token,
      publish: this.publishing,
      mic: () => this.mic,
      dtx: this.p.dtx !== false,
      red: this.p.red !== false,
      iceTransportPolicy: this.p.iceTransportPolicy,
      giveUpWhenServerGone: this.p.cluster,
      env: this.p.env,
      handlers: this.handlers,
    });
  }

  // closeLeg ends a leg, keeping its counters for the diagnostics.
  private closeLeg(leg: Leg | null, leave: boolean): void {
    if (!leg) return;
    leg.close(leave);
    this.counters.restarts += leg.restarts;
    leg.restarts = 0;
    this.counters.resumes += leg.resumes;
    leg.resumes = 0;
    this.counters.duplicates += leg.outbox.duplicates;
    leg.outbox.duplicates = 0;
    for (const el of this.audioEls.get(leg) ?? []) {
      el.srcObject = null;
      el.remove();
    }
    this.audioEls.delete(leg);
  }

  private closeAll(leave: boolean): void {
    if (this.drainTimer) clearTimeout(this.drainTimer);
    if (this.rejoinTimer) clearTimeout(this.rejoinTimer);
    this.drainTimer = this.rejoinTimer = null;
    this.closeLeg(this.pending, false);
    this.closeLeg(this.draining, true);
    this.closeLeg(this.leg, leave);
    this.pending = this.draining = this.leg = null;
  }

  // rejoin drops the session and joins from scratch after delay, plus a
  // backoff that grows with each rejoin that did not get joined (250 ms a
  // try: a restarting worker takes a moment before it can take peers).
  private rejoin(delay: number, reason: string, backoff = true): void {
    if (this.left) return;
    this.rejoinReason = reason;
    this.closeAll(false);
    if (backoff) this.retry++;
    const wait = backoff ? Math.min(delay + 250 * this.retry, 5000) : delay;
    // Ask for a ticket again: the API knows where the room is now, a token
    // function gives a fresh token.
    this.ticket = null;
    this.markReconnecting(reason);
    this.rejoinTimer = setTimeout(() => this.connectLeg(), wait);
  }

  // end stops the room for good.
  private end(reason: DisconnectReason, leave: boolean): void {
    this.left = true;
    this.closeAll(leave);
    this.mic?.stop();
    this.meter?.close();
    this.meter = null;
    this.reconnecting = false;
    this.setState("disconnected");
    this.emit("disconnected", reason);
    this.started?.reject(Object.assign(new Error(reason.message), { code: reason.code }));
    this.started = null;
  }

  private onMessage(leg: Leg, msg: ServerMessage): void {
    if (leg === this.pending) {
      if (msg.type === "joined") this.switchHome(leg);
      else if (msg.type !== "error" || !msg.fatal) return;
      else {
        this.rejoin(300, "move failed: " + msg.code);
        return;
      }
    }
    if (leg !== this.leg) return; // the old home after a move: its news is stale
    switch (msg.type) {
      case "joined":
        this.onJoined(leg, msg);
        break;
      case "peer_joined": {
        const p = this.addPeer(msg.peer.id, msg.peer.identity, !!msg.peer.muted, msg.peer.publishing !== false, false);
        this.emit("participantJoined", p);
        break;
      }
      case "peer_left": {
        const p = this.peers.get(msg.peer_id);
        if (p) {
          this.peers.delete(msg.peer_id);
          this.emit("participantLeft", p);
        }
        break;
      }
      case "peer_muted": {
        const p = this.peers.get(msg.peer_id);
        if (p && p.muted !== msg.muted) {
          p.muted = msg.muted;
          this.emit("muteChanged", p);
        }
        break;
      }
      case "active_speakers": {
        const levels = new Map((msg.speakers || []).map((s) => [s.peer_id, s.level]));
        for (const [id, p] of this.peers) {
          p.speaking = levels.has(id);
          p.audioLevel = levels.get(id) ?? 0;
        }
        const speakers = (msg.speakers || []).map((s) => this.peers.get(s.peer_id)).filter((p): p is Participant => !!p);
        this.emit("activeSpeakersChanged", speakers);
        break;
      }
      case "connection_quality":
        for (const q of msg.peers || []) {
          const p = this.peers.get(q.peer_id);
          if (!p) continue;
          const changed = !p.quality || p.quality.level !== q.level || p.quality.score !== q.score;
          p.quality = { level: q.level, score: q.score };
          if (changed) this.emit("connectionQualityChanged", p, p.quality);
        }
        break;
      case "reconnect":
        this.rejoin(msg.delay_ms || 0, "reconnect " + msg.reason);
        break;
      case "move":
        this.startMove(msg.url, msg.token, msg.server || "");
        break;
      case "error":
        this.onError(leg, msg.code, msg.message, !!msg.fatal);
        break;
    }
  }

  private onJoined(leg: Leg, msg: Extract<ServerMessage, { type: "joined" }>): void {
    if (this.everJoined) this.rejoins++;
    this.everJoined = true;
    this.retry = 0;
    this.name = msg.room;
    // A rejoin (a move, a reconnect) keeps the mute the user chose.
    if (this.muted && this.publishing) leg.send({ type: "mute", muted: true });
    const before = new Map(this.peers);
    this.peers.clear();
    const identity = this.p.identity || identityFromToken(this.ticket?.token ?? "");
    this.addPeer(msg.peer_id, identity, this.muted, this.publishing, true);
    for (const p of msg.peers || []) this.addPeer(p.id, p.identity, !!p.muted, p.publishing !== false, false);
    for (const [id, p] of before) if (!this.peers.has(id) && !p.isLocal) this.emit("participantLeft", p);
    for (const [id, p] of this.peers) if (!before.has(id) && !p.isLocal) this.emit("participantJoined", p);
    this.setState(this.reconnecting ? "reconnecting" : "joined");
    this.started?.resolve();
    this.started = null;
  }

  private addPeer(id: string, identity: string, muted: boolean, publishing: boolean, isLocal: boolean): Participant {
    const p: Participant = { id, identity, isLocal, publishing, muted, speaking: false, audioLevel: 0 };
    this.peers.set(id, p);
    return p;
  }

  private onError(leg: Leg, code: string, message: string, fatal: boolean): void {
    if (fatal && code === "join_timeout" && leg.wasConnected) {
      // A rejoin in a long network outage: the media could not connect yet.
      // The call was up before, so the network may well come back.
      this.rejoin(1000, "join_timeout");
      return;
    }
    if (fatal && this.p.cluster && (code === "wrong_server" || code === "unavailable")) {
      this.rejoin(300, code); // the room moved, or its server is stopping: ask the API again
      return;
    }
    if (fatal) {
      this.end({ code, message }, false);
      return;
    }
    this.emit("error", { code, message });
  }

  // startMove follows the room to its new home, make-before-break: the new
  // server is joined while the old one keeps the call going, and the old
  // session is left once the new media is up (docs/signalling.md, move).
  private startMove(url: string, token: string, server: string): void {
    if (this.pending) this.closeLeg(this.pending, false);
    this.ticket = { url, token, server: server || undefined };
    if (server) this.server = server;
    this.setState("moving");
    this.pending = this.newLeg(this.ticket);
    this.pending.open();
  }

  // switchHome makes the new home's leg the room's, keeping the old one
  // playing until the new media connects.
  private switchHome(next: Leg): void {
    const old = this.leg;
    this.pending = null;
    this.leg = next;
    if (old) {
      this.closeLeg(this.draining, true);
      this.draining = old;
      this.drainTimer = setTimeout(() => this.finishDrain(), drainAfterMs);
    }
    this.rejoinReason = "move";
    this.emit("moved", { server: this.server, url: this.ticket?.url ?? "" });
  }

  private finishDrain(): void {
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    this.closeLeg(this.draining, true);
    this.draining = null;
  }

  private onHealth(leg: Leg): void {
    if (leg !== this.leg || this.left) return;
    if (leg.healthy && this.draining) this.finishDrain();
    if (leg.trouble) {
      this.markReconnecting(leg.wsDown ? "signalling" : "media");
    } else if (leg.healthy) {
      this.retry = 0;
      if (this.reconnecting) {
        this.reconnecting = false;
        this.setState("connected");
        this.emit("reconnected");
      } else this.setState("connected");
    }
  }

  private onLost(leg: Leg, loss: LegLoss): void {
    if (leg === this.draining) {
      this.finishDrain();
      return;
    }
    if (leg === this.pending) {
      this.rejoin(300, "move failed: " + loss.reason);
      return;
    }
    if (leg !== this.leg) return;
    if (/^(resume_failed|resume gap|no resume socket)/.test(loss.reason)) {
      this.retry = 0;
      this.rejoin(0, loss.reason, false); // at once: the session is gone, not the server
      return;
    }
    if (loss.serverGone || (this.p.cluster && loss.closeCode !== undefined)) {
      this.rejoin(300, loss.reason); // its server may have died: the API knows where the room is next
      return;
    }
    if (loss.closeCode === 1006 && loss.beforeJoin && this.ticket) {
      // Refused before the upgrade (a browser's WebSocket hides why): ask over HTTP.
      const t = this.ticket;
      this.p.env
        .fetch(t.url.replace(/^ws/, "http").replace(/\/+$/, "") + "/v1/rtc?token=" + encodeURIComponent(t.token))
        .then((r) => r.json())
        .then((b) => {
          if (leg !== this.leg) return;
          // After a call, a full server is a moment's (a worker restarting):
          // only a token that no longer works ends the room then.
          const final = this.everJoined ? b?.code === "unauthorized" || b?.code === "token_expired" : terminalCodes.has(b?.code);
          if (final) this.end({ code: b.code, message: b.message || b.code }, false);
          else this.rejoin(this.everJoined ? 500 : 1000, loss.reason + (b?.code ? " (" + b.code + ")" : ""));
        })
        .catch(() => leg === this.leg && this.rejoin(1000, loss.reason));
      return;
    }
    this.rejoin(500, loss.reason);
  }

  private onTrack(leg: Leg, ev: RTCTrackEvent): void {
    if (leg !== this.leg && leg !== this.draining && leg !== this.pending) return;
    const stream = ev.streams[0] || new MediaStream([ev.track]);
    // The stream id is the publishing peer's id (docs/signalling.md).
    const participant = this.peers.get(stream.id);
    const doc = this.p.env.document;
    if (this.p.audio !== false && doc) {
      const els = this.audioEls.get(leg) ?? [];
      let el = els.find((e) => e.dataset.stream === stream.id);
      if (!el) {
        el = doc.createElement("audio");
        el.dataset.stream = stream.id;
        el.autoplay = true;
        (typeof this.p.audio === "object" ? this.p.audio : doc.body).appendChild(el);
        els.push(el);
        this.audioEls.set(leg, els);
      }
      el.srcObject = stream;
      el.play().catch(() => {});
    }
    this.emit("trackSubscribed", ev.track, participant);
  }
}

