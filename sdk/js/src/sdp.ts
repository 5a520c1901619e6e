// SDP edits a voicectl client makes to the server's offers and its own
// answers. The server is always the offerer (docs/signalling.md), so these
// are the only places the client shapes what is negotiated.

const opusRtpmap = /a=rtpmap:(\d+) opus\/48000\/2/i;

/**
 * recvonlyMids lists the mids of the offer's recvonly m-lines: where the
 * server takes this client's microphone.
 */
export function recvonlyMids(sdp: string): string[] {
  const mids: string[] = [];
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = /a=mid:(\S+)/.exec(section);
    if (mid && /a=recvonly/.test(section)) mids.push(mid[1]);
  }
  return mids;
}

/**
 * withDTX adds usedtx=1 (RFC 7587 section 6.1) to the Opus fmtp lines, as
 * LiveKit's SDK does: silence then costs a packet per 400 ms, not 50 a
 * second. libwebrtc configures its encoder from the remote description's
 * Opus parameters, so the offer gets it before it is applied; the answer
 * gets it so the server sees that the client sends DTX.
 */
export function withDTX(sdp: string): string {
  const opus = opusRtpmap.exec(sdp);
  if (!opus) return sdp;
  const line = new RegExp("^(a=fmtp:" + opus[1] + " (?:(?!usedtx=)[^\r\n])*)(?=\r?$)", "gm");
  return sdp.replace(line, "$1;usedtx=1");
}

/**
 * withNACK keeps generic NACK (RFC 4585) on Opus in an answer where the
 * offer has it: Chromium's answers leave it out for audio (its Opus lists
 * no nack), yet once negotiated its audio receiver asks for lost packets
 * and its sender answers.
 */
export function withNACK(answer: string, offer: string): string {
  const opus = opusRtpmap.exec(answer);
  if (!opus) return answer;
  const fb = "a=rtcp-fb:" + opus[1] + " nack";
  const has = (sdp: string) => new RegExp("^" + fb + "\r?$", "m").test(sdp);
  if (!has(offer) || has(answer)) return answer;
  return answer.replace(new RegExp("^a=rtpmap:" + opus[1] + " opus/48000/2\r?\n", "gmi"), (l) => l + fb + "\r\n");
}

/** hasRED says whether an SDP negotiates RED (RFC 2198) audio. */
export function hasRED(sdp: string): boolean {
  return /a=rtpmap:\d+ red\/48000\/2/i.test(sdp);
}
