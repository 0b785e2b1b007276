"""The whole rehearsal on one machine, wired as the stack wires it on AWS.

viewer -> Varnish (the distribution) -> HAProxy (the balancer) -> server instances
                                     -> origin access (signed reads) -> moto's S3
server and worker instances, the reconciler -> moto's S3, SQS, SSM and CloudFront APIs,
each signed as its role's IAM user.

``Stage.start_servers`` is the one way server instances start (what an Auto Scaling
launch does): their units, their registration with the target group, the user data's
wait for healthy.
"""

import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from support.rehearsal.aws import (
    Account,
    Credentials,
    Provisioned,
    moto_with_iam,
    provision,
    role_identity,
)
from support.rehearsal.balancer import Balancer
from support.rehearsal.edge import Cdn, InvalidationBridge, OriginAccess, vcl
from support.rehearsal.fleet import WorkerFleet
from support.rehearsal.template import REGION, STACK_NAME, StackTemplate, Statement
from support.rehearsal.units import PRE_START_TIMEOUT, SCRIPTS, Unit
from support.services import free_port

# Seconds the user data's sharer-wait-healthy may wait here (600 on AWS, for a boot).
HEALTHY_WAIT_SECONDS = 120
# Each compressed alarm period of the worker fleet, in wall-clock seconds.
FLEET_PERIOD_SECONDS = 1.0


@dataclass
class Stage:
    """Every running part; the scenarios drive it."""

    template: StackTemplate
    workdir: Path
    account: Account
    provisioned: Provisioned
    balancer: Balancer
    cdn: Cdn
    bridge: InvalidationBridge
    identities: dict[str, Credentials]
    servers: dict[int, Unit] = field(default_factory=dict)
    _launches: int = 0

    def bootstrap(self, role: str) -> dict[str, str]:
        """/etc/sharer/bootstrap.env as sharer-start-role writes it, plus what an instance
        gets from EC2 rather than a file: its role's credentials and the endpoints."""
        return {
            "AWS_REGION": REGION,
            "SHARER_SETTINGS_PARAMETER": f"/sharer/{STACK_NAME}/{role}",
            "SHARER_AGENT_PARAMETER": f"/sharer/{STACK_NAME}/cloudwatch-agent",
            **self.identities[role].env(),
            "AWS_ENDPOINT_URL": self.account.endpoint,
            "SHARER_AWS_ENDPOINT_URL": self.account.endpoint,
        }

    def endpoint_overrides(self, port: int) -> dict[str, str]:
        """The settings that name endpoints, as this machine has them: the instance's own
        port, and the CDN's address over HTTP (viewer TLS is not rehearsed)."""
        return {
            "SHARER_BIND": f"127.0.0.1:{port}",
            # Each instance has loopback's metrics port to itself; here they share one.
            "SHARER_METRICS_BIND": f"127.0.0.1:{free_port()}",
            "SHARER_PUBLIC_BASE_URL": self.cdn.base_url,
            "SHARER_SITE_URL": self.cdn.base_url,
        }

    def start_server(self) -> int:
        """Launch one server instance into a free slot and wait until the balancer counts
        it healthy (user data's wait, then the target group's checks); its slot."""
        (slot,) = self.start_servers(1)
        return slot

    def start_servers(self, count: int) -> list[int]:
        """Launch ``count`` server instances at once, as a group launches its capacity, then
        wait until the balancer counts each healthy; their slots. The target group checks
        every registered target on its own schedule, so their waits overlap."""
        slots = [self._launch_server() for _ in range(count)]
        health = urlsplit(self.template.unit_health_url())
        for slot in slots:
            subprocess.run(
                [
                    str(SCRIPTS / "sharer-wait-healthy.sh"),
                    f"http://127.0.0.1:{self.balancer.slot_ports[slot]}{health.path}",
                    str(HEALTHY_WAIT_SECONDS),
                ],
                check=True,
                capture_output=True,
                timeout=HEALTHY_WAIT_SECONDS + 10,
            )
            self.balancer.wait_healthy(slot, timeout=HEALTHY_WAIT_SECONDS)
        return slots

    def _launch_server(self) -> int:
        """Start a server unit in a free slot and register it with the target group."""
        slot = next(s for s in range(len(self.balancer.slot_ports)) if s not in self.servers)
        unit = Unit(
            "sharer@.service",
            "server",
            self.workdir / f"server-{self._launches}",
            self.bootstrap("server"),
            self.endpoint_overrides(self.balancer.slot_ports[slot]),
        )
        self._launches += 1
        unit.start()
        self.servers[slot] = unit
        self.balancer.register(slot)
        return slot

    def stop_server(self, slot: int) -> float:
        """Terminate a server as the group does: deregister (drain), then stop its unit;
        the seconds the drain took."""
        drained = self.balancer.deregister(slot)
        self.servers.pop(slot).stop()
        return drained

    def stop_every_server(self) -> None:
        """Stop every server unit (the end of the rehearsal: nothing to drain for)."""
        for unit in self.servers.values():
            unit.stop()

    def kill_server(self, slot: int) -> None:
        """The instance dies at once: every process SIGKILLed, the balancer not told."""
        self.servers[slot].kill()

    def forget_server(self, slot: int) -> None:
        """The group replaces a dead instance: its target is deregistered."""
        self.balancer.command(f"set server servers/slot{slot} state maint")
        self.servers.pop(slot)

    def worker(self) -> Unit:
        """A new worker instance (not started), with a file system of its own."""
        self._launches += 1
        root = self.workdir / f"worker-{self._launches}"
        return Unit("sharer@.service", "worker", root, self.bootstrap("worker"))

    def reconciler(self) -> Unit:
        """One pass of the reconciler, as its timer starts it on a server instance."""
        return Unit(
            "sharer-reconcile.service",
            "reconcile",
            self.workdir / "reconcile",
            self.bootstrap("server"),
        )

    def queue_depth(self) -> tuple[int, int]:
        """Messages visible and in flight in the work queue (the alarm's two SQS metrics)."""
        attributes = self.account.sqs().get_queue_attributes(
            QueueUrl=self.provisioned.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    @contextmanager
    def worker_fleet(self, period_seconds: float = FLEET_PERIOD_SECONDS) -> Iterator[WorkerFleet]:
        """The worker group, scaled by its policies while the block runs."""
        _, minimum, maximum = self.template.worker_group()
        fleet = WorkerFleet(
            policies=self.template.step_policies(),
            minimum=minimum,
            maximum=maximum,
            new_worker=self.worker,
            queue_depth=self.queue_depth,
            period_seconds=period_seconds,
        )
        thread = threading.Thread(target=fleet.run, daemon=True)
        thread.start()
        try:
            yield fleet
        finally:
            fleet.stop()
            thread.join(PRE_START_TIMEOUT + 10)
            # A worker whose start was under way when the first stop came joins the fleet
            # only after it: stop again once the scaling thread has ended, or it outlives
            # the block and does jobs a later scenario needs left undone.
            fleet.stop()


def cdn_identity_statement(template: StackTemplate, provisioned: Provisioned) -> Statement:
    """The bucket policy's grant to CloudFront, which the origin access signs with."""
    return template.bucket_read_by_cdn(provisioned.physical)


@contextmanager
def running_stage(template: StackTemplate, workdir: Path) -> Iterator[Stage]:
    """Start everything the template describes, with the server group's minimum of
    servers in service; stop it all on the way out."""
    with ExitStack() as stack:
        account = stack.enter_context(moto_with_iam(workdir))
        cdn = Cdn(workdir)
        provisioned = provision(template, account, cdn_domain=f"127.0.0.1:{cdn.port}")
        identities = {
            role: role_identity(template, account, provisioned, role)
            for role in ("server", "worker")
        }
        grant = cdn_identity_statement(template, provisioned)
        identities["cdn"] = account.create_user(
            "cdn-origin-access",
            [{"Effect": "Allow", "Action": list(grant.actions), "Resource": list(grant.resources)}],
        )
        account.limits.append(
            "cdn: the bucket policy's condition "
            f"{grant.conditions} not evaluated; origin access signs as an IAM user holding "
            "that statement (CloudFront's service principal cannot sign here)"
        )
        origin = OriginAccess(account.s3(identities["cdn"]), provisioned.bucket)
        threading.Thread(target=origin.serve_forever, daemon=True).start()
        stack.callback(origin.shutdown)
        balancer = Balancer(template.target_group(), workdir)
        balancer.start()
        stack.callback(balancer.stop)
        distribution = template.distribution()
        cdn.start(
            vcl(distribution, balancer_port=balancer.port, bucket_port=origin.port),
            keepalive_seconds=distribution.keepalive_seconds,
        )
        stack.callback(cdn.stop)
        bridge = InvalidationBridge(account, provisioned.distribution_id, cdn)
        threading.Thread(target=bridge.run, daemon=True).start()
        stack.callback(bridge.stop)
        stage = Stage(template, workdir, account, provisioned, balancer, cdn, bridge, identities)
        stack.callback(stage.stop_every_server)
        stage.start_servers(template.server_group_minimum())
        yield stage
