import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CountingHistogram } from './counting-histogram';

/**
 * Every Prometheus metric of the gateway, on a registry of its own (several
 * gateways in one test process must not share one). Names follow the
 * Prometheus conventions: `_total` counters, `_seconds` histograms.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  /** Observed per request: a CountingHistogram, as prom-client's costs more than a microsecond with three labels. */
  readonly httpDuration = new CountingHistogram({
    name: 'vora_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly socketsOpen = new Gauge({
    name: 'vora_sockets_open',
    help: 'WebSockets open on this instance (one per session)',
    registers: [this.registry],
  });

  readonly sessionsOpened = new Counter({
    name: 'vora_sessions_opened_total',
    help: 'Sessions opened by POST /identity/setup',
    registers: [this.registry],
  });

  readonly sessionsEnded = new Counter({
    name: 'vora_sessions_ended_total',
    help:
      'Sessions ended by logout, replaced by a new setup, revoked (identity no longer allowed) or expired at the end of their lifetime with a socket open (idle expiry is not seen by any instance)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly eventsReceived = new Counter({
    name: 'vora_events_received_total',
    help: 'Events accepted from the platform',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly eventsBuffered = new Counter({
    name: 'vora_events_buffered_total',
    help: 'Events appended to session buffers (one per recipient session)',
    registers: [this.registry],
  });

  readonly eventsDroppedFromBuffers = new Counter({
    name: 'vora_events_dropped_from_buffers_total',
    help: 'Buffered events pushed out of a full session buffer (EVENT_BUFFER_SIZE)',
    registers: [this.registry],
  });

  /**
   * Events written to sockets since the last scrape, counted as plain numbers:
   * they are counted per event, where a labelled prom-client inc costs more
   * than the rest of the write. `eventsDelivered` takes them over when scraped.
   */
  readonly delivered = { live: 0, replay: 0 };

  readonly eventsDelivered = new Counter({
    name: 'vora_events_delivered_total',
    help: 'Events written to a socket, live or replayed',
    labelNames: ['kind'] as const,
    registers: [this.registry],
    collect: () => {
      const { delivered } = this;
      this.eventsDelivered.inc({ kind: 'live' }, delivered.live);
      this.eventsDelivered.inc({ kind: 'replay' }, delivered.replay);
      delivered.live = delivered.replay = 0;
    },
  });

  readonly deliveryLatency = new CountingHistogram({
    name: 'vora_delivery_latency_seconds',
    help: 'From the platform handing an event to the gateway to its write on a socket (live events)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  readonly resumes = new Counter({
    name: 'vora_resumes_total',
    help: 'Sockets opened with lastEventId, by whether every event after it was still buffered',
    labelNames: ['recovered'] as const,
    registers: [this.registry],
  });

  readonly socketCloses = new Counter({
    name: 'vora_socket_closes_total',
    help: 'Socket closes by close code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly pushes = new Counter({
    name: 'vora_push_requests_total',
    help: 'Wake-up pushes for holdUp sessions, by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly holdUpOutcomes = new Counter({
    name: 'vora_holdup_outcomes_total',
    help: 'Held-up calls by the outcome reported to the platform',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly holdUpTimings = new Histogram({
    name: 'vora_holdup_seconds',
    help: 'Time from the CallDelivered to each step of a held-up call',
    labelNames: ['step'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 10, 15, 30],
    registers: [this.registry],
  });

  readonly storeErrors = new Counter({
    name: 'vora_redis_errors_total',
    help: 'Redis connection errors',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  });

  readonly storeReconnects = new Counter({
    name: 'vora_redis_reconnects_total',
    help: 'Redis connections made again after one was lost (to a node of a Cluster: each new node connection), by connection',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  });

  readonly storeRedirects = new Counter({
    name: 'vora_redis_redirects_total',
    help: 'Redis Cluster redirections followed (MOVED: a slot moved; ASK: a slot being migrated), by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly storeFailovers = new Counter({
    name: 'vora_redis_failovers_total',
    help: 'Redis failovers seen: a Cluster master replaced by another node for its slots, or a new master named by Sentinel',
    registers: [this.registry],
  });

  readonly storeBadValues = new Counter({
    name: 'vora_store_bad_values_total',
    help: 'Values read from Redis that are not what the gateway writes there (treated as missing, or repaired), by record',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly clusterSettleTimeouts = new Counter({
    name: 'vora_cluster_settle_timeouts_total',
    help: 'Settled cluster events (setup, logout, socket claims, subscription changes) that an instance did not answer in time, by event',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });

  readonly busDeliveries = new Counter({
    name: 'vora_bus_deliveries_total',
    help: 'Deliveries through the bus between instances: sent to another instance, received from one, or handed to this instance\'s own sockets',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });

  readonly ingressPartitionsHeld = new Gauge({
    name: 'vora_ingress_partitions_held',
    help: 'Ingress stream partitions whose lease this instance holds (it reads and routes them)',
    registers: [this.registry],
  });

  readonly ingressDeadLetters = new Counter({
    name: 'vora_ingress_dead_letters_total',
    help: 'vora:ingress entries moved to vora:ingress:dead, by reason (malformed, or routing that kept failing)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly holdUpDeadlineCheckFailures = new Counter({
    name: 'vora_holdup_deadline_check_failures_total',
    help: 'Sweeps of holdUp deadlines that failed (the pending-call store unreachable); ClientNotReady waits meanwhile',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'vora_' });
    // prom-client names these gauges `_total`, which Prometheus keeps for counters (promtool refuses them);
    // each is the sum of the gauge of the same name without `_total`, by type, which stays.
    for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) {
      this.registry.removeSingleMetric(`vora_nodejs_${name}`);
    }
  }
}
