// A leg is one signalling session on one server: its WebSocket, its
// RTCPeerConnection and the sequence numbers between them. A Room has one,
// and two for a moment while it follows a move (make-before-break).

import type { Env } from "./env.js";
import { Outbox } from "./outbox.js";
import { recvonlyMids, withDTX, withNACK } from "./sdp.js";
import type { ClientMessage, ICEServer, ServerMessage } from "./wire.js";

/**
 * How long the media may stay "disconnected" before an ICE restart is asked
 * for (Chromium says disconnected after ~2.5 s without an answer; a short
 * blip heals by itself), and how long a restart may take before another.
 */
export const restartAfterDisconnectMs = 2000;
export const restartRetryMs = [4000, 8000, 8000];
/**
 * Resume attempts on a dropped WebSocket stop after this, then a full join;
 * the server keeps a dropped peer for signal.resume_window (20 s by default).
 */
export const resumeForMs = 15000;

/** The selected ICE candidate pair: how the media goes. */
export interface MediaPath {
  protocol: string;
  localType: string;
  remoteType: string;
  relayProtocol: string;
  remote: string;
  bytesReceived: number;
}

/** Why a leg can no longer go on: the room joins again, or gives up. */
export interface LegLoss {
  reason: string;
  /** closeCode is the WebSocket's close code, when a socket closed. */
  closeCode?: number;
  /** beforeJoin: the socket closed before any joined (a refused upgrade looks like this). */
  beforeJoin?: boolean;
  /** serverGone: a resume socket could not even open. */
  serverGone?: boolean;
}

/** What a leg tells its room. */
export interface LegHandlers {
  message(leg: Leg, msg: ServerMessage): void;
  track(leg: Leg, ev: RTCTrackEvent): void;
  health(leg: Leg): void;
  lost(leg: Leg, loss: LegLoss): void;
  negotiationFailed(leg: Leg, err: unknown): void;
}

export interface LegParams {
  /** url is the server's http(s) or ws(s) base address. */
  url: string;
  token: string;
  publish: boolean;
  mic: () => MediaStreamTrack | null;
  dtx: boolean;
  red: boolean;
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** giveUpWhenServerGone ends the leg when a resume socket cannot open (cluster mode: the API knows the room's next home). */
  giveUpWhenServerGone: boolean;
  env: Env;
  handlers: LegHandlers;
}

/** Leg is one session on one server. */
export class Leg {
  readonly outbox = new Outbox();
  ws: WebSocket | null = null;
  pc: RTCPeerConnection | null = null;
  peerId = "";
  resumeToken = "";
  /** wsDown: the socket dropped and a resume is under way. */
  wsDown = false;
  iceState: RTCIceConnectionState | "closed" = "new";
  connected = false;
  wasConnected = false;
  path: MediaPath | null = null;
  restarts = 0;
  resumes = 0;
  canRestart = true;
  connectMs = 0;
  closed = false;

  private readonly p: LegParams;
  private connectStart = 0;
  private negotiation: Promise<void> = Promise.resolve();
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private restartAttempt = 0;
  private resumeTimer: ReturnType<typeof setTimeout> | null = null;
  private resumeStarted = 0;
  private resumeAttempt = 0;
  private pathTimer: ReturnType<typeof setInterval> | null = null;

  constructor(p: LegParams) {
    this.p = p;
  }

  /** open connects and joins. */
  open(): void {
    this.connectStart = now();
    const ws = new this.p.env.WebSocket(signalURL(this.p.url, this.p.token));
    this.ws = ws;
    ws.onopen = () => this.send({ type: "join", publish: this.p.publish });
    ws.onmessage = (e) => this.onMessage(JSON.parse(String(e.data)));
    ws.onclose = (e) => {
      if (this.ws !== ws || this.closed) return;
      if (this.resumeToken) {
        this.startResume();
        return;
      }
      this.lose({ reason: "socket closed " + e.code, closeCode: e.code, beforeJoin: !this.peerId });
    };
  }

  /** iceUp: the media has a path. */
  get iceUp(): boolean {
    return this.iceState === "connected" || this.iceState === "completed";
  }

  /**
   * trouble: the media or the signalling is down and being recovered (a
   * resume, an ICE restart, or a path that went quiet).
   */
  get trouble(): boolean {
    if (this.wsDown) return true;
    if (this.iceState === "disconnected" || this.iceState === "failed") return true;
    return this.restartAttempt > 0 && !this.iceUp;
  }

  /** healthy: signalling and media are both up. */
  get healthy(): boolean {
    return this.wsOpen && this.iceUp && this.connected;
  }

  /** wsOpen: the signalling socket is open and carries the session. */
  get wsOpen(): boolean {
    return !!this.ws && this.ws.readyState === 1 && !this.wsDown;
  }

  /** send numbers msg (once the session has seq) and sends it, or keeps it for the replay after a resume. */
  send(msg: ClientMessage): void {
    this.outbox.stamp(msg);
    if (!this.wsDown) this.sendRaw(msg);
  }

  private sendRaw(msg: ClientMessage): void {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(msg));
  }

  /** close ends the leg; with leave the server drops the peer at once. */
  close(leave: boolean): void {
    if (this.closed) return;
    if (leave) this.send({ type: "leave" });
    this.closed = true;
    this.clearTimers();
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.onmessage = null;
      this.ws.close();
    }
    if (this.pc) this.pc.close();
    this.connected = false;
    this.iceState = "closed";
    this.path = null;
  }

  /** restartICE asks the server for new ICE credentials: after a network change, or when the media path broke. */
  restartICE(): void {
    this.requestRestart();
  }

  private clearTimers(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    if (this.pathTimer) clearInterval(this.pathTimer);
    this.restartTimer = this.resumeTimer = this.pathTimer = null;
  }

  private lose(loss: LegLoss): void {
    if (this.closed) return;
    this.p.handlers.lost(this, loss);
  }

  private onMessage(msg: ServerMessage): void {
    if (this.closed || !this.outbox.accept(msg.seq)) return;
    switch (msg.type) {
      case "joined":
        this.peerId = msg.peer_id;
        this.resumeToken = msg.resume_token || "";
        if (this.resumeToken) this.outbox.start();
        // joined carries the TURN servers (and their short-lived
        // credentials) this peer may use; the offer follows.
        this.pc = this.newPeerConnection(msg.ice_servers || []);
        this.iceState = this.pc.iceConnectionState;
        break;
      case "resumed":
        this.onResumed(msg.peer_id, msg.last_seq || 0);
        return;
      case "offer":
        this.queueOffer(msg.sdp);
        return;
      case "candidate":
        this.queueCandidate(msg.candidate);
        return;
      case "pong":
        return;
      case "error":
        if (msg.code === "resume_failed") {
          // The server no longer has this session: join from scratch.
          this.lose({ reason: "resume_failed: " + msg.message });
          return;
        }
        if (!msg.fatal && msg.code === "unknown_type" && /restart_ice/.test(msg.message)) {
          // A server without ICE restarts: its own recovery (a reconnect) is left.
          this.canRestart = false;
          return;
        }
        if (!msg.fatal && msg.id && msg.id.startsWith("restart-")) return; // asked again later
        if (!msg.fatal && msg.code === "bad_candidate") return; // a candidate the server does not use
        break;
    }
    this.p.handlers.message(this, msg);
  }

  private newPeerConnection(iceServers: ICEServer[]): RTCPeerConnection {
    const cfg: RTCConfiguration = { iceServers: iceServers as RTCIceServer[] };
    if (this.p.iceTransportPolicy) cfg.iceTransportPolicy = this.p.iceTransportPolicy;
    const pc = new this.p.env.RTCPeerConnection(cfg);
    pc.onicecandidate = (e) => {
      if (e.candidate) this.send({ type: "candidate", candidate: e.candidate.toJSON() });
    };
    pc.ontrack = (e) => this.p.handlers.track(this, e);
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc || this.closed) return;
      this.connected = pc.connectionState === "connected";
      if (this.connected) {
        if (!this.connectMs) this.connectMs = Math.round(now() - this.connectStart);
        this.wasConnected = true;
        this.updatePath();
      }
      this.p.handlers.health(this);
    };
    pc.oniceconnectionstatechange = () => this.onIceState(pc);
    // The selected pair can change without a state change (a TCP or relay
    // path replaced by UDP): read it now and then while connected.
    this.pathTimer = setInterval(() => {
      if (this.connected) this.updatePath();
    }, 2000);
    return pc;
  }

  // Offers are applied one at a time, in order: an ICE-restart offer may
  // follow a track offer before its answer is made.
  private queueOffer(sdp: string): void {
    const pc = this.pc;
    if (!pc) return;
    this.negotiation = this.negotiation
      .then(() => (this.pc === pc && !this.closed ? this.answer(pc, sdp) : undefined))
      .catch((e) => {
        if (this.pc === pc && !this.closed) this.p.handlers.negotiationFailed(this, e);
      });
  }

  // A candidate waits for the offers that came before it: the server sends
  // an ICE restart's candidates after its offer, and the browser drops one
  // of the new generation added before that offer is applied.
  private queueCandidate(candidate: RTCIceCandidateInit): void {
    const pc = this.pc;
    if (!pc) return;
    this.negotiation = this.negotiation
      .then(() => (this.pc === pc && !this.closed ? pc.addIceCandidate(candidate) : undefined))
      .catch(() => {}); // one of an older generation, which the browser no longer needs
  }

  private async answer(pc: RTCPeerConnection, sdp: string): Promise<void> {
    await pc.setRemoteDescription({ type: "offer", sdp: this.p.dtx ? withDTX(sdp) : sdp });
    const mic = this.p.mic();
    if (mic) {
      // The server's recvonly m-line is where the microphone goes.
      for (const mid of recvonlyMids(sdp)) {
        const tr = pc.getTransceivers().find((t) => t.mid === mid);
        if (tr && tr.sender.track !== mic) {
          await tr.sender.replaceTrack(mic);
          tr.direction = "sendonly";
        }
      }
    }
    if (!this.p.red) withoutRED(pc);
    let answer = (await pc.createAnswer()).sdp || "";
    if (this.p.dtx) answer = withDTX(answer);
    answer = withNACK(answer, sdp);
    await pc.setLocalDescription({ type: "answer", sdp: answer });
    this.send({ type: "answer", sdp: answer });
  }

  private onIceState(pc: RTCPeerConnection): void {
    if (this.pc !== pc || this.closed) return;
    this.iceState = pc.iceConnectionState;
    switch (pc.iceConnectionState) {
      case "connected":
      case "completed":
        this.clearRestartTimer();
        this.restartAttempt = 0;
        this.updatePath();
        break;
      case "disconnected":
        // Often back within a second or two by itself; ask for a restart if not.
        if (!this.restartTimer) this.restartTimer = setTimeout(() => this.requestRestart(), restartAfterDisconnectMs);
        break;
      case "failed":
        if (!this.restartAttempt) this.requestRestart();
        break;
    }
    this.p.handlers.health(this);
  }

  private clearRestartTimer(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  // requestRestart asks the server for an ICE-restart offer (restart_ice):
  // new ICE credentials on the same transport, so the media finds a path
  // that works again while DTLS, SRTP and every track stay. Until ICE is up
  // it asks again now and then; a server that knows no restart_ice is left
  // to its own recovery (its reconnect message).
  private requestRestart(): void {
    this.clearRestartTimer();
    if (!this.pc || this.closed || !this.canRestart || !this.peerId) return;
    const attempt = this.restartAttempt++;
    this.restarts++;
    this.send({ type: "restart_ice", id: "restart-" + this.restarts });
    this.restartTimer = setTimeout(() => this.requestRestart(), restartRetryMs[Math.min(attempt, restartRetryMs.length - 1)]);
    this.p.handlers.health(this);
  }

  // updatePath reads the selected candidate pair: udp, tcp or a relay (TURN).
  private updatePath(): void {
    const pc = this.pc;
    if (!pc) return;
    pc.getStats()
      .then((all) => {
        let path: MediaPath | null = null;
        all.forEach((s) => {
          if (s.type !== "transport" || !s.selectedCandidatePairId) return;
          const pair = all.get(s.selectedCandidatePairId);
          const local = pair && all.get(pair.localCandidateId);
          const remote = pair && all.get(pair.remoteCandidateId);
          if (!local || !remote) return;
          path = {
            protocol: local.protocol,
            localType: local.candidateType,
            remoteType: remote.candidateType,
            relayProtocol: local.relayProtocol || "",
            remote: (remote.address || remote.ip) + ":" + remote.port,
            bytesReceived: pair.bytesReceived || 0,
          };
        });
        if (this.pc === pc && !this.closed) this.path = path;
      })
      .catch(() => {});
  }

  // startResume: the WebSocket dropped without a leave. The server keeps
  // the peer (and its media, which goes on flowing) for
  // signal.resume_window; a new WebSocket that opens with resume takes the
  // session back, and each side re-sends what the other missed (by seq).
  private startResume(): void {
    this.wsDown = true;
    this.resumeStarted = Date.now();
    this.resumeAttempt = 0;
    this.p.handlers.health(this);
    this.tryResume();
  }

  private tryResume(): void {
    this.resumeTimer = null;
    if (this.closed) return;
    if (Date.now() - this.resumeStarted > resumeForMs) {
      this.lose({ reason: "no resume socket" });
      return;
    }
    const ws = new this.p.env.WebSocket(signalURL(this.p.url, "", true));
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.sendRaw({ type: "resume", token: this.resumeToken, last_seq: this.outbox.seqIn });
    };
    ws.onmessage = (e) => this.onMessage(JSON.parse(String(e.data)));
    ws.onclose = () => {
      if (this.ws !== ws || this.closed) return;
      if (!opened && this.p.giveUpWhenServerGone) {
        this.lose({ reason: "server gone", serverGone: true });
        return;
      }
      const wait = Math.min(100 * 2 ** this.resumeAttempt++, 1000);
      this.resumeTimer = setTimeout(() => this.tryResume(), wait);
    };
  }

  // onResumed: the new socket carries the session. Re-send what the server
  // did not get (its last_seq), in order, with their original seq.
  private onResumed(peerId: string | undefined, serverGot: number): void {
    this.resumes++;
    this.wsDown = false;
    this.resumeAttempt = 0;
    if (peerId) this.peerId = peerId;
    const again = this.outbox.replay(serverGot);
    if (!again) {
      this.lose({ reason: "resume gap" }); // what the server is missing is no longer kept
      return;
    }
    for (const m of again) this.sendRaw(m);
    this.p.handlers.health(this);
  }
}

/**
 * signalURL is the WebSocket to join on, or to resume on (no join token: it
 * may have expired since, and the resume token is the credential).
 */
export function signalURL(base: string, token: string, resume = false): string {
  const ws = base.replace(/^http/, "ws").replace(/\/+$/, "");
  if (resume) return ws + "/v1/rtc?resume=1";
  return ws + "/v1/rtc?token=" + encodeURIComponent(token);
}

// withoutRED leaves RED out of what this client negotiates, where the
// browser lets codecs be chosen.
function withoutRED(pc: RTCPeerConnection): void {
  const caps = typeof RTCRtpReceiver !== "undefined" ? RTCRtpReceiver.getCapabilities?.("audio") : null;
  if (!caps) return;
  const codecs = caps.codecs.filter((c) => !/\/red$/i.test(c.mimeType));
  for (const tr of pc.getTransceivers()) {
    try {
      tr.setCodecPreferences(codecs);
    } catch {
      // a transceiver that is stopped or not audio
    }
  }
}

function now(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}
