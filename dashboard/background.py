"""The cluster's background work, run by one process at a time: the leader (`dashboard.db.leader`).

Today: the per-account risk gauges for Prometheus, the delivery of the alert outbox to its
channels, and the demo simulator in demo mode. The jobs
run side by side; one that fails ends the leader's turn, and the next turn (here or in another
process) starts them all again, which is what a job expects after a crash anyway.
"""

from __future__ import annotations

import asyncio

from dashboard.account_gauges import export_account_gauges
from dashboard.db.leader import Job
from dashboard.demo.simulator import Simulator
from dashboard.runtime import Runtime
from dashboard.services.alerts.delivery import deliver_forever
from dashboard.services.alerts.secrets import ChannelSecrets
from dashboard.services.alerts.sender import apprise_send


def leader_work(runtime: Runtime, *, demo: bool) -> Job:
    async def work() -> None:
        settings = runtime.settings
        secrets = ChannelSecrets.of(settings.alerts_key)
        jobs = [
            export_account_gauges(runtime.queries, runtime.metrics.accounts),
            deliver_forever(
                runtime.database,
                secrets,
                every_s=settings.alert_poll_s,
                max_attempts=settings.alert_max_attempts,
                send=apprise_send,
            ),
        ]
        if demo:
            simulator = Simulator(runtime.write, interval_s=runtime.settings.simulate_interval_s)
            jobs.append(simulator.run_forever())
        await asyncio.gather(*jobs)

    return work
