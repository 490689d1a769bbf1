"""A real RabbitMQ of the lab's own: Celery's second broker, on a free port, in a temporary
folder, as Debian's ``rabbitmq`` user.

Debian's ``rabbitmq-server`` package is a node of the Erlang VM. The lab runs it by hand, never
as the system's service: its own node name, its own data folder (``RABBITMQ_MNESIA_BASE``),
its AMQP listener on a free port of its place's address, its own Erlang port mapper daemon
(``epmd``) on a free port, and its log on standard output (the lab's log file). ``epmd``
would otherwise start itself as a daemon of its own session, which no stop would reach: here
it is started in the foreground, beside the node, in the service's session, and stopped with
it. The node stops on SIGTERM (a clean shutdown); its queues and their messages are kept in
its folder for :meth:`RabbitServer.serve_again`, the broker come back; :meth:`stop` removes
the folder.

Its plugins folder holds only the applications the broker's core needs (:func:`core_apps`),
each a link to the package's: at boot the node reads every application in that folder for
its plugins, and Debian's holds 71. (The code path, ``ERL_LIBS``, stays the
package's.) Measured on the 2-vCPU CI machine, three boots of each, interleaved, twice: 3.2-3.4
CPU-seconds with the 20 the core needs against 4.3-4.6 with all of them, and in a slower hour
4.2-4.9 against 5.4-6.5: a fifth to a quarter less (enabled plugins: none either way).

Where the lab is root, the node runs as the ``rabbitmq`` user Debian's package creates
(``setpriv``), who owns the folder; the Erlang cookie is written in that folder, not in a
home. The guest user may connect from any address (``loopback_users = none``): the lab's
hosts reach the broker over their own network, which reaches only the lab's other hosts.
"""

from __future__ import annotations

import re
import shutil
import signal
import tempfile
from pathlib import Path

from ..harness.ports import free_port
from .daemon import INSTALL, Daemon, Missing, accepts, as_user, give_to

INSTALL["rabbitmq-server"] = ("install it with `sudo apt-get install rabbitmq-server` "
                              "(macOS: `brew install rabbitmq`)")
#: Debian's node script (the one on PATH, /usr/sbin, wraps it to switch users with ``su``).
NODE_SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
#: The applications the broker's core starts from; the rest of its folder is plugins.
CORE = ("rabbit", "rabbitmq_prelaunch", "rabbit_common")
#: What the node prints once it has booted (its banner's last words; the log shows warnings only).
READY_LINE = " completed with "
CONFIG = """\
listeners.tcp.default = {address}:{port}
loopback_users = none
log.console = true
log.console.level = warning
log.file = false
"""


def node_script() -> str:
    """The node's start script: Debian's, else ``rabbitmq-server`` on PATH (Homebrew's)."""
    if NODE_SCRIPT.exists():
        return str(NODE_SCRIPT)
    if on_path := shutil.which("rabbitmq-server"):
        return on_path
    raise Missing(f"rabbitmq-server not found: {INSTALL['rabbitmq-server']}")


class RabbitServer(Daemon):
    """A RabbitMQ node of its own; ``url`` is the ``CELERY_BROKER_URL`` that reaches it."""

    name = "rabbitmq-server"
    ready_timeout = 60.0
    stop_signal = signal.SIGTERM  # the node's clean shutdown
    stop_grace = 15.0

    def __init__(self, *, port: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.script = node_script()
        self.epmd = shutil.which("epmd") or _erlang_epmd()
        self.prefix = as_user("rabbitmq", "rabbitmq-server", "the node runs as its own user")
        self.port = port or free_port()
        self.epmd_port, self.dist_port = free_port(), free_port()
        self.node = f"lab{self.port}@localhost"
        self.url = f"amqp://guest:guest@{self.place.address}:{self.port}//"
        self.folder: Path | None = None

    def argv(self) -> list[str]:
        # epmd in the foreground, in this session; then exec the node (the same pid)
        return [*self.prefix, "sh", "-c", '"$0" -port "$1" -address 127.0.0.1 & shift; '
                'exec "$@"', self.epmd, str(self.epmd_port), self.script]

    def env(self) -> dict[str, str]:
        folder = self.folder
        return {
            "HOME": str(folder),  # the Erlang cookie's folder
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(folder / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            **({"RABBITMQ_PLUGINS_DIR": str(folder / "plugins")}
               if (folder / "plugins").exists() else {}),
            "RABBITMQ_PID_FILE": str(folder / "pid"),
            "RABBITMQ_LOGS": "-",
        }

    def start(self) -> None:
        """A fresh folder and node; on any failure, everything stopped and removed."""
        try:
            self.folder = Path(tempfile.mkdtemp(prefix="lab-rabbitmq-"))
            (self.folder / "rabbitmq.conf").write_text(
                CONFIG.format(address=self.place.address, port=self.port))
            (self.folder / "enabled_plugins").write_text("[].\n")
            link_core_apps(Path(self.script).resolve().parent.parent / "plugins",
                           self.folder / "plugins")
            give_to(self.prefix, self.folder, self.folder / "rabbitmq.conf",
                    self.folder / "enabled_plugins")
            super().start()
        except BaseException:
            self.stop()
            raise

    def is_ready(self) -> bool:
        """The node says it has started, and its AMQP port answers."""
        return READY_LINE in self.log_text() and accepts(self.place.address, self.port)

    def stop_server(self, first_signal: signal.Signals | None = None) -> None:
        """Stop the node -- cleanly, or killed by ``first_signal`` (SIGKILL: a crash) -- and
        keep its folder: the broker went away, and its durable queues come back with it."""
        Daemon.stop(self, first_signal=first_signal)

    def serve_again(self) -> None:
        """Serve the same folder again, on the same ports: the broker came back."""
        Daemon.start(self)

    def stop(self, grace: float | None = None) -> None:
        """Stop and reap the node and its epmd, then remove its folder."""
        super().stop(grace)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def core_apps(plugins: Path) -> dict[str, Path]:
    """The applications in ``plugins`` that :data:`CORE` needs, by the ``applications`` of
    each one's ``.app`` file, with their folders (Erlang's and missing ones are left out)."""
    folders = {path.name.rsplit("-", 1)[0]: path for path in plugins.glob("*-*")
               if path.is_dir()}
    needed: dict[str, Path] = {}
    todo = list(CORE)
    while todo:
        app = todo.pop()
        if app in needed or app not in folders:
            continue
        needed[app] = folders[app]
        for spec in folders[app].glob("ebin/*.app"):
            for key in ("applications", "included_applications"):
                if found := re.search(r"\{" + key + r",\s*\[([^\]]*)\]", spec.read_text()):
                    todo += re.findall(r"\w+", found.group(1))
    return needed


def link_core_apps(plugins: Path, folder: Path) -> None:
    """A plugins folder of links to the core's applications; none (the package's own
    folder is used) where ``plugins`` does not hold the core."""
    apps = core_apps(plugins) if plugins.is_dir() else {}
    if not set(CORE) <= set(apps):
        return
    folder.mkdir()
    for path in apps.values():
        (folder / path.name).symlink_to(path)


def _erlang_epmd() -> str:
    """Debian's epmd, which is not on PATH: /usr/lib/erlang/erts-*/bin/epmd."""
    found = sorted(Path("/usr/lib/erlang").glob("erts-*/bin/epmd"))
    if not found:
        raise Missing(f"epmd not found (Erlang's): {INSTALL['rabbitmq-server']}")
    return str(found[-1])
