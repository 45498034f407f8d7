import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { CHAT_PLATFORMS } from '../chat-platforms.js';
import type { Config } from '../config/schema.js';
import type { OutageLog } from '../redis/outage.js';
import { DELIVER_QUEUE, ENHANCE_QUEUE, type Requester } from './jobs.js';

/** Each platform has its own delivery queue, so a bot that is down leaves only its own deliveries waiting. */
export const deliverQueueName = (platform: Requester['platform']) => `${DELIVER_QUEUE}-${platform}`;

export interface Queues {
  enhance: Queue;
  deliver(platform: Requester['platform']): Queue;
  all(): Queue[];
  close(): Promise<void>;
}

/**
 * The queues of this process. With `outage`, each one's 'error' events go to it (one line per
 * outage); without, they are logged nowhere but do not crash the process.
 */
export function openQueues(config: Config, connection: () => Redis, outage?: OutageLog): Queues {
  const prefix = config.queue.prefix;
  const watch = (name: string, q: Queue): Queue => (outage ? outage.watch(name, q) : q.on('error', () => {}));
  const enhance = watch('queue enhance', new Queue(ENHANCE_QUEUE, { connection: connection(), prefix }));
  const deliverQueues = new Map<string, Queue>();
  const deliver = (platform: Requester['platform']) => {
    let q = deliverQueues.get(platform);
    if (!q) {
      q = watch(`queue ${deliverQueueName(platform)}`, new Queue(deliverQueueName(platform), { connection: connection(), prefix }));
      deliverQueues.set(platform, q);
    }
    return q;
  };
  return {
    enhance,
    deliver,
    all: () => [enhance, ...CHAT_PLATFORMS.map(deliver)],
    async close() {
      await Promise.all([enhance.close(), ...[...deliverQueues.values()].map((q) => q.close())]);
    },
  };
}

export function openEvents(config: Config, connection: () => Redis, outage?: OutageLog): QueueEvents {
  const events = new QueueEvents(ENHANCE_QUEUE, { connection: connection(), prefix: config.queue.prefix });
  if (outage) outage.watch('queue events', events);
  else events.on('error', () => {});
  return events;
}

/** 1-based place of a waiting job (oldest first), or undefined when it is not waiting. */
export async function queuePosition(queue: Queue, jobId: string): Promise<number | undefined> {
  const waiting = await queue.getJobs(['waiting', 'prioritized'], 0, -1, true);
  const i = waiting.findIndex((j) => j?.id === jobId);
  return i >= 0 ? i + 1 : undefined;
}
