"""The cluster's background work, run by one process at a time: the leader (`dashboard.db.leader`).

The per-account risk gauges for Prometheus, the alerts (delivery of the outbox to its channels,
escalation, silent accounts, the cache's trouble), retention, and the demo simulator in demo mode. The jobs
run side by side; one that fails ends the leader's turn, and the next turn (here or in another
process) starts them all again, which is what a job expects after a crash anyway.

`watch_trouble` runs in every process: the database's trouble ends leadership itself, and the
process that led last is the one that reports it (`dashboard.services.alerts.trouble`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from dashboard.account_gauges import export_account_gauges
from dashboard.db.leader import Job
from dashboard.db.outage import DatabaseUnavailable
from dashboard.demo.simulator import Simulator
from dashboard.metrics import AppMetrics
from dashboard.runtime import Runtime
from dashboard.services.alerts.delivery import DeliveryConfig, deliver_forever
from dashboard.services.alerts.sender import Send, apprise_send
from dashboard.services.alerts.silence import mark_silent_accounts
from dashboard.services.alerts.trouble import TroubleWatch
from dashboard.services.retention import RetentionRun, run_retention

log = logging.getLogger(__name__)


async def watch_silence(runtime: Runtime, every_s: float) -> None:
    """Silent accounts, judged from when this leader started watching (see `silent_since`)."""
    watched_since = datetime.now(UTC)
    while True:
        try:
            await runtime.write(mark_silent_accounts, watched_since)
        except DatabaseUnavailable:
            pass
        await asyncio.sleep(every_s)


async def watch_trouble(runtime: Runtime, send: Send = apprise_send) -> None:
    redis = runtime.cache.redis
    watch = TroubleWatch(
        runtime.database,
        lambda: redis.breaker.open_for_s if redis is not None else 0.0,
        lambda: runtime.leadership.leading,
        runtime.alert_secrets,
        send,
    )
    while True:
        try:
            written = await watch.check()
            if written is not None:
                await runtime.write.touched(written.touched)
        except DatabaseUnavailable:
            pass
        await asyncio.sleep(runtime.settings.alert_poll_s * 5)


async def retention_forever(runtime: Runtime) -> None:
    """Retention on the leader: at start, then every `retention_every_s`; says what it did. On
    PostgreSQL each run also makes the day partitions of today and the days ahead, so a database
    migrated long ago gets them as soon as a leader starts."""
    settings = runtime.settings
    while True:
        try:
            run = await run_retention(
                runtime.database,
                raw_equity_kept=timedelta(days=settings.equity_raw_retention_days),
                alerts_kept=timedelta(days=settings.alert_retention_days),
                sync_logs_kept=timedelta(days=settings.sync_log_retention_days),
            )
        except DatabaseUnavailable:
            pass
        else:
            report_retention(runtime.metrics, run)
        await asyncio.sleep(settings.retention_every_s)


def report_retention(metrics: AppMetrics, run: RetentionRun) -> None:
    """Metrics for every run; a log line only for a run that changed something."""
    metrics.retention_seconds.observe(run.seconds)
    for table in {*run.deleted, *run.dropped_rows}:
        metrics.retention_deleted.labels(table).inc(run.removed(table))
    for table, names in run.dropped.items():
        metrics.retention_dropped_partitions.labels(table).inc(len(names))
    if any(run.deleted.values()) or run.dropped:
        done = ", ".join(f"{count} {table}" for table, count in run.deleted.items() if count)
        dropped = "; ".join(
            f"{table}: {', '.join(names)} ({run.dropped_rows.get(table, 0)} rows)"
            for table, names in run.dropped.items()
        )
        log.warning(
            "retention: deleted %s in %d batches; dropped partitions %s; %.1f s",
            done or "nothing",
            run.batches,
            dropped or "none",
            run.seconds,
        )
    if run.created:
        log.info(
            "retention: made partitions %s", "; ".join(f"{t}: {', '.join(n)}" for t, n in run.created.items())
        )
    if run.skipped:
        log.warning(
            "retention: partition changes left for the next run: %s",
            "; ".join(f"{t}: {', '.join(n)}" for t, n in run.skipped.items()),
        )


def leader_work(runtime: Runtime, *, demo: bool, send: Send = apprise_send) -> Job:
    async def work() -> None:
        settings = runtime.settings
        config = DeliveryConfig(
            runtime.alert_secrets,
            send,
            settings.alert_max_attempts,
            runtime.ack_links.url,
            on_result=lambda result: runtime.metrics.alert_deliveries.labels(result).inc(),
        )
        jobs = [
            export_account_gauges(runtime.queries, runtime.metrics.accounts),
            deliver_forever(runtime.database, config, every_s=settings.alert_poll_s),
            watch_silence(runtime, every_s=max(settings.alert_poll_s, 5.0)),
            retention_forever(runtime),
        ]
        if demo:
            simulator = Simulator(
                runtime.write,
                interval_s=settings.simulate_interval_s,
                equity_every=timedelta(seconds=settings.simulate_equity_every_s),
            )
            jobs.append(simulator.run_forever())
        await asyncio.gather(*jobs)

    return work
