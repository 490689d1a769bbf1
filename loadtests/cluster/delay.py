"""Latency on a host's link, in user space: a TCP relay that holds every byte D ms each way.

``tc qdisc add dev eth0 root netem delay 20ms`` is how one would add latency to a link; this
machine's kernel has no netem module ("Specified qdisc kind is unknown"), and none can be
loaded. So the broker host runs this relay in front of its service instead: clients connect
to the relay, which connects to the service on the same host and forwards each chunk
``delay`` ms after it arrived, in order, in both directions. A request and its answer then
take 2 × D more than they would, as with netem's D on each end of the link. What it does not
do that netem does: delay TCP's own handshakes and acknowledgements (the relay's sockets
ack at once) -- for a request-and-answer protocol such as Redis's, the added round trip is
the same. Its own cost is measured beside: the relay at 0 ms against no relay.

    python -m loadtests.cluster.delay --listen 198.18.0.3:6380 --to 198.18.0.3:6379 --ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from ..services.daemon import Daemon

READY_LINE = "relaying"


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                delay: float) -> None:
    """Forward what ``reader`` gives, each chunk ``delay`` s after it arrived, in order."""
    loop = asyncio.get_running_loop()
    held: asyncio.Queue = asyncio.Queue()

    async def deliver() -> None:
        while (item := await held.get()) is not None:
            due, chunk = item
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(deliver())
    try:
        while chunk := await reader.read(65536):
            held.put_nowait((loop.time() + delay, chunk))
    except ConnectionError:
        pass
    finally:
        held.put_nowait(None)
        with contextlib.suppress(ConnectionError):
            await sender


async def serve(listen: tuple[str, int], target: tuple[str, int], delay: float) -> None:
    async def relay(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pump(client_reader, server_writer, delay),
                             _pump(server_reader, client_writer, delay))

    server = await asyncio.start_server(relay, *listen)
    print(f"{READY_LINE} {listen[0]}:{listen[1]} -> {target[0]}:{target[1]} "
          f"+{delay * 1000:g} ms each way", flush=True)
    async with server:
        await server.serve_forever()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.cluster.delay",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=_address, required=True, help="ADDRESS:PORT")
    parser.add_argument("--to", type=_address, required=True, help="ADDRESS:PORT")
    parser.add_argument("--ms", type=float, default=0.0, help="delay each way, ms")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.listen, args.to, args.ms / 1000))
    return 0


class DelayRelay(Daemon):
    """The relay as one of the lab's processes, on a host (its ``place``)."""

    name = "delay"
    stop_grace = 2.0

    def __init__(self, target_port: int, port: int, ms: float, **kwargs):
        super().__init__(**kwargs)
        self.target_port, self.port, self.ms = target_port, port, ms

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "loadtests.cluster.delay",
                "--listen", f"{self.place.address}:{self.port}",
                "--to", f"{self.place.address}:{self.target_port}", "--ms", str(self.ms)]

    def is_ready(self) -> bool:
        return READY_LINE in self.log_text()


if __name__ == "__main__":
    sys.exit(main())
