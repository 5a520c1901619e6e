import assert from "node:assert/strict";
import { test } from "node:test";
import { hasRED, recvonlyMids, withDTX, withNACK } from "../src/sdp.js";

const offer = [
  "v=0",
  "m=audio 9 UDP/TLS/RTP/SAVPF 63 111",
  "a=mid:0",
  "a=sendonly",
  "a=rtpmap:63 red/48000/2",
  "a=fmtp:63 111/111",
  "a=rtpmap:111 opus/48000/2",
  "a=rtcp-fb:111 nack",
  "a=fmtp:111 minptime=10;useinbandfec=1",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111",
  "a=mid:1",
  "a=recvonly",
  "a=rtpmap:111 opus/48000/2",
  "a=fmtp:111 minptime=10",
  "",
].join("\r\n");

test("recvonlyMids finds where the microphone goes", () => {
  assert.deepEqual(recvonlyMids(offer), ["1"]);
});

test("withDTX adds usedtx=1 to every Opus fmtp line, once", () => {
  const once = withDTX(offer);
  assert.equal(once.match(/usedtx=1/g)?.length, 2);
  assert.match(once, /a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n/);
  assert.equal(withDTX(once), once, "idempotent");
  assert.match(once, /a=fmtp:63 111\/111\r\n/, "RED's fmtp untouched");
});

test("withNACK keeps NACK the offer has and the answer dropped", () => {
  const answer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n";
  const got = withNACK(answer, offer);
  assert.match(got, /a=rtpmap:111 opus\/48000\/2\r\na=rtcp-fb:111 nack\r\n/);
  assert.equal(withNACK(got, offer), got, "not twice");
  const noNack = offer.replace("a=rtcp-fb:111 nack\r\n", "");
  assert.equal(withNACK(answer, noNack), answer, "not where the offer has none");
});

test("hasRED", () => {
  assert.ok(hasRED(offer));
  assert.ok(!hasRED(offer.replace("a=rtpmap:63 red/48000/2", "")));
});
