"""The load balancer: HAProxy configured from the template's target group and balancer.

Health checks (path, interval, timeout, thresholds, healthy codes), the idle timeout, and
deregistration with its delay are the template's. Servers sit in slots: a slot is
registered (``register``) when its instance starts and deregistered (``deregister``) the
way a target group does it: no new requests, then up to the deregistration delay for
those in flight. Like an ALB whose targets are all unhealthy (fail open), HAProxy is not
asked to do anything then: scenario 8 checks that the template's thresholds keep that from
happening in a short outage.
"""

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.rehearsal.template import TargetGroup
from support.services import START_TIMEOUT, free_port, stop_processes, wait_until_listening

BACKEND = "servers"
SLOTS = 12


@dataclass
class Balancer:
    """HAProxy on ``port`` with ``SLOTS`` server slots, each on a port of its own."""

    target_group: TargetGroup
    workdir: Path
    port: int = field(default_factory=free_port)
    slot_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(SLOTS)])
    process: "subprocess.Popen[bytes] | None" = None

    @property
    def socket_path(self) -> Path:
        """HAProxy's runtime API."""
        return self.workdir / "haproxy.sock"

    def config(self) -> str:
        """haproxy.cfg: one frontend (the listener), one backend (the target group)."""
        group = self.target_group
        idle = f"{group.idle_timeout_seconds}s"
        servers = "".join(
            f"    server slot{index} 127.0.0.1:{port} disabled\n"
            for index, port in enumerate(self.slot_ports)
        )
        return (
            "global\n"
            f"    stats socket {self.socket_path} mode 600 level admin\n"
            "defaults\n"
            "    mode http\n"
            "    option forwardfor\n"
            # An ALB does not retry a request on another target: it answers 502.
            "    retries 0\n"
            "    timeout connect 5s\n"
            f"    timeout client {idle}\n"
            f"    timeout server {idle}\n"
            f"    timeout http-keep-alive {idle}\n"
            "frontend listener\n"
            f"    bind 127.0.0.1:{self.port}\n"
            f"    default_backend {BACKEND}\n"
            f"backend {BACKEND}\n"
            "    balance roundrobin\n"
            "    option httpchk\n"
            f"    http-check send meth GET uri {group.health_path}\n"
            f"    http-check expect status {group.healthy_codes}\n"
            f"    timeout check {group.timeout_seconds}s\n"
            f"    default-server check inter {group.interval_seconds}s "
            f"rise {group.healthy_threshold} fall {group.unhealthy_threshold}\n"
            f"{servers}"
        )

    def start(self) -> None:
        """Write the configuration and start HAProxy in the foreground."""
        path = self.workdir / "haproxy.cfg"
        path.write_text(self.config())
        log = (self.workdir / "haproxy.log").open("ab")
        self.process = subprocess.Popen(["haproxy", "-db", "-f", str(path)], stdout=log, stderr=log)
        wait_until_listening(self.port, self.process, START_TIMEOUT)

    def stop(self) -> None:
        """Stop HAProxy."""
        if self.process is not None:
            stop_processes([self.process])

    def command(self, line: str) -> str:
        """One runtime API command; its answer."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket_path))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stats(self) -> dict[str, dict[str, str]]:
        """``show stat`` of every slot: status (UP, DOWN, MAINT, DRAIN...), scur..."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        return {
            r["svname"]: r
            for r in rows
            if r["pxname"] == BACKEND and r["svname"].startswith("slot")
        }

    def status(self, slot: int) -> str:
        """The slot's state as HAProxy sees it (UP, DOWN, MAINT, DRAIN, UP 1/2...)."""
        return self.stats()[f"slot{slot}"]["status"]

    def in_service(self) -> list[int]:
        """Slots the balancer sends requests to: up, or up with failed checks counting
        toward the unhealthy threshold ("UP 1/3")."""
        rows = self.stats().items()
        return [int(name[4:]) for name, row in rows if row["status"].startswith("UP")]

    def register(self, slot: int) -> None:
        """Register the slot as a target group does: it takes traffic only once it has
        passed the healthy threshold of checks. HAProxy would count a server leaving
        maintenance as up at once, so it is marked down in the same command line."""
        name = f"{BACKEND}/slot{slot}"
        self.command(f"set server {name} state ready; set server {name} health down")

    def wait_healthy(self, slot: int, timeout: float) -> float:
        """Seconds until the balancer counts the slot as UP; TimeoutError past ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.status(slot) == "UP":
                return time.monotonic() - started
            time.sleep(0.2)
        raise TimeoutError(f"slot{slot} not healthy after {timeout}s: {self.status(slot)}")

    def deregister(self, slot: int) -> float:
        """Drain the slot (no new requests), wait for its requests in flight, at most the
        deregistration delay, then take it out; the seconds the drain took."""
        self.command(f"set server {BACKEND}/slot{slot} state drain")
        started = time.monotonic()
        deadline = started + self.target_group.deregistration_delay_seconds
        while time.monotonic() < deadline and int(self.stats()[f"slot{slot}"]["scur"] or 0) > 0:
            time.sleep(0.1)
        self.command(f"set server {BACKEND}/slot{slot} state maint")
        return time.monotonic() - started
