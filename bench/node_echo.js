// Node.js baseline for bench/echo.sh: the idiomatic net echo server (one event loop, libuv
// epoll underneath), i.e. what a typical "fast enough" echo server in a managed runtime costs.
//
//   node node_echo.js PORT      (binds 127.0.0.1 only)
'use strict';
const net = require('net');

const server = net.createServer((socket) => {
  socket.setNoDelay(true);     // Small echoes go out at once, as in the other servers.
  socket.on('error', () => {});  // A client reset must not crash the server.
  socket.pipe(socket);         // Echo with backpressure: pauses reading while writes queue up.
});
server.listen(Number(process.argv[2]), '127.0.0.1', () => {
  console.error(`listening on 127.0.0.1:${server.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
