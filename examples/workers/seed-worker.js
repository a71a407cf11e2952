'use strict';
// A Node worker written as the seed writes worker.js: process.on('message')
// and process.send, nothing from forkwire. A forkwire WorkerPool (or a
// plain fork()) runs it unchanged.
//
// - {id, type?, data}: a request, answered {id, result} or {id, error}
// - {type: 'heartbeat-request'} -> {type: 'heartbeat', timestamp}
// - {type: 'health-check'} -> {type: 'health-status', healthy, metrics}
// - {type: 'ping'} -> {type: 'pong', pid}

const MessageTypes = {
  CALCULATE: 'calculate',
  UPPERCASE: 'uppercase',
};

let taskCount = 0;
let errorCount = 0;

process.on('message', (msg) => {
  // Validate message structure
  if (!msg || typeof msg !== 'object') {
    process.send({ error: 'Invalid message format', received: typeof msg });
    return;
  }

  if (msg.id !== undefined && msg.type !== 'cancel') {
    const { id, type, data } = msg;
    taskCount++;
    try {
      process.send({ id, result: performTask(type, data) });
    } catch (error) {
      errorCount++;
      process.send({ id, error: { message: error.message, name: error.name, stack: error.stack } });
    }
    return;
  }

  switch (msg.type) {
    case 'heartbeat-request':
      process.send({ type: 'heartbeat', timestamp: Date.now() });
      break;
    case 'health-check': {
      const memUsage = process.memoryUsage();
      process.send({
        type: 'health-status',
        healthy: errorCount < 10 && memUsage.heapUsed < 500 * 1024 * 1024,
        metrics: { memory: memUsage.heapUsed, taskCount, errors: errorCount, uptime: process.uptime() },
      });
      break;
    }
    case 'ping':
      process.send({ type: 'pong', pid: process.pid });
      break;
    case undefined:
      process.send({ error: 'Missing message type' });
      break;
    default:
      // Other notifications (and {type: 'cancel', id}) need no answer.
      break;
  }
});

function performTask(type, data) {
  switch (type) {
    case MessageTypes.CALCULATE:
      return data.values.reduce((a, b) => a + b, 0);
    case MessageTypes.UPPERCASE:
      return String(data).toUpperCase();
    default:
      // Do work
      return data.n * 2;
  }
}
