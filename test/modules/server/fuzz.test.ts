// Seeded mutation fuzzing of every packet type, MQTT 3.1.1 and 5.0, against the
// parser alone and against the whole core through the harness. Whatever arrives,
// the only failure allowed is a ProtocolError that closes that one connection.
// The mutations are test/support/storms/fuzz.ts: the fuzz storm sends the same over TCP.
//
//   FUZZ_SEED=<n>        seed (default below); a failure names the seed and iteration
//   FUZZ_ITERATIONS=<n>  mutated sequences per protocol version (default 3000; the
//                       parser alone gets four times as many)

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PacketParser } from '../../../modules/server/src/codec/parser.ts';
import { ProtocolError } from '../../../modules/server/src/errors.ts';
import { chunks, corpusBytes, fuzzSequence, hex, mutate, rng } from '../../support/storms/fuzz.ts';
import { Harness, publishes } from './harness.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 3000);

for (const version of [4, 5] as const) {
  describe(`fuzz: mutated MQTT ${version === 5 ? '5.0' : '3.1.1'} packets (FUZZ_SEED=${SEED}, ${ITERATIONS} iterations)`, () => {
    const packets = corpusBytes(version);

    it('the parser throws nothing but ProtocolError, whatever the bytes', () => {
      const r = rng(SEED ^ version);
      for (let i = 0; i < ITERATIONS * 4; i++) {
        const input = mutate(r.pick(packets), r);
        const parser = new PacketParser(1 << 16);
        parser.version = version;
        try {
          for (const c of chunks(input, r)) parser.feed(c, () => true);
        } catch (e) {
          if (!(e instanceof ProtocolError)) assert.fail(`FUZZ_SEED=${SEED} iteration ${i}: ${String(e)} on ${hex(input)}`);
        }
        parser.dispose();
      }
    });

    it('the core closes at most the fuzzed connection: no internal error, a bystander keeps working, budgets balance', () => {
      const r = rng(SEED + version * 7919);
      const h = new Harness({ 'max-packet-size': 1 << 16, 'retained-work-per-call': 50 });
      const bystander = h.connect('bystander');
      bystander.subscribe('#', 1);
      const witness = h.connect('witness');
      let checked = 0;
      for (let i = 0; i < ITERATIONS; i++) {
        const c = h.open({ version });
        const { connect, rest } = fuzzSequence(r, version, packets, `f${i % 50}`);
        const input = connect ? Buffer.concat([connect, rest]) : rest;
        c.write(...chunks(input, r));
        if (r.chance(0.1)) h.advance(1000 + r.int(30_000));
        h.settle();
        const errors = h.platform.logs.filter((l) => l.level === 'error');
        if (errors.length > 0) assert.fail(`FUZZ_SEED=${SEED} iteration ${i}: ${errors[0].message} on ${hex(input)}`);
        if (r.chance(0.5)) c.drop();
        if (i % 50 === 49) {
          // Everyone else is unaffected: a message still goes from one client to another.
          bystander.packets();
          witness.publish('alive', `${i}`);
          const got = publishes(bystander.packets()).filter(([t]) => t === 'alive');
          assert.deepEqual(got, [['alive', `${i}`, 0, false, false]], `FUZZ_SEED=${SEED} iteration ${i}`);
          checked++;
        }
      }
      // What partial packets hold is exactly what the open connections' parsers hold.
      let held = 0;
      for (const conn of h.server.connections.values()) held += conn.parser.buffered;
      assert.equal(h.server.partialBudget.used, held);
      assert.ok(checked > 0);
      assert.equal(bystander.closedByServer, false);
    });
  });
}
