import assert from "node:assert/strict";
import { test } from "node:test";
import { Outbox, maxUnacked } from "../src/outbox.js";

test("messages are numbered only once the session has seq", () => {
  const o = new Outbox();
  assert.equal(o.stamp({ type: "join", publish: true }).seq, undefined);
  o.start();
  assert.equal(o.stamp({ type: "mute", muted: true }).seq, 1);
  assert.equal(o.stamp({ type: "mute", muted: false }).seq, 2);
});

test("a repeated server message is dropped and counted", () => {
  const o = new Outbox();
  assert.ok(o.accept(undefined));
  assert.ok(o.accept(1));
  assert.ok(o.accept(2));
  assert.ok(!o.accept(2));
  assert.ok(!o.accept(1));
  assert.equal(o.duplicates, 2);
  assert.equal(o.seqIn, 2);
});

test("replay re-sends what the server did not get, in order", () => {
  const o = new Outbox();
  o.start();
  for (let i = 0; i < 4; i++) o.stamp({ type: "mute", muted: i % 2 === 0 });
  assert.deepEqual(o.replay(2)?.map((m) => m.seq), [3, 4]);
  assert.deepEqual(o.replay(4), []);
});

test("replay says when what the server misses is no longer kept", () => {
  const o = new Outbox();
  o.start();
  for (let i = 0; i < maxUnacked + 10; i++) o.stamp({ type: "ping" });
  assert.equal(o.replay(5), null);
  assert.equal(o.replay(10)?.length, maxUnacked);
});
