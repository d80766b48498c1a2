// bench/drain's floor: bare node:http reading each drain body whole and counting its frames by
// their octet counts (`<count> <frame>`), then 204. No parsing, no Redis: what receiving the
// bytes costs at the least on this machine. `GET /stats` answers what it counted.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 3100);
let requests = 0;
let frames = 0;

/** Frames of an octet-counted body: read the count, skip that many bytes, repeat. */
function countFrames(body: Buffer): number {
  let at = 0;
  let count = 0;
  while (at < body.length) {
    while (at < body.length && (body[at] === 10 || body[at] === 13)) at += 1;
    if (at >= body.length) break;
    let length = 0;
    let digits = 0;
    for (let byte = body[at]!; byte >= 48 && byte <= 57; byte = body[at]!) {
      length = length * 10 + (byte - 48);
      at += 1;
      digits += 1;
    }
    if (digits === 0 || body[at] !== 32) break;
    at += 1 + length;
    count += 1;
  }
  return count;
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ requests, frames }));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
  });
  req.on('end', () => {
    frames += countFrames(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    requests += 1;
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.send?.('ready'));
