// node-redis subscribers against the server on the port given, in RESP2
// and RESP3: a channel listener and a pattern listener receive what another
// client publishes. Run by tests/pubsub.rs; exits non-zero on any failure.
import { createClient } from 'redis';

const port = Number(process.argv[2]);

async function check(resp) {
  const options = { socket: { host: '127.0.0.1', port }, RESP: resp };
  const subscriber = createClient(options);
  const publisher = createClient(options);
  for (const c of [subscriber, publisher]) {
    c.on('error', (e) => { console.error(e); process.exit(1); });
    await c.connect();
  }
  const got = [];
  await subscriber.subscribe('news', (message, channel) => got.push(['message', channel, message]));
  await subscriber.pSubscribe('n*', (message, channel) => got.push(['pmessage', channel, message]));
  const receivers = await publisher.publish('news', 'hello');
  if (receivers !== 2) throw new Error(`RESP${resp}: PUBLISH reached ${receivers}, not 2`);
  const deadline = Date.now() + 20000;
  while (got.length < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const want = JSON.stringify([['message', 'news', 'hello'], ['pmessage', 'news', 'hello']]);
  if (JSON.stringify(got) !== want) throw new Error(`RESP${resp}: got ${JSON.stringify(got)}`);
  await subscriber.unsubscribe('news');
  await subscriber.pUnsubscribe('n*');
  subscriber.destroy();
  publisher.destroy();
}

await check(2);
await check(3);
console.log('ok');
