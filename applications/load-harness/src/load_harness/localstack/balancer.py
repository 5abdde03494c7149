"""A minimal TCP round-robin balancer, used only when nginx is not installed.

Each new client connection goes to the next replica and bytes are copied both ways untouched, so the Host header
the servers check arrives exactly as the client sent it. It balances connections, not requests: a client that
keeps one connection alive stays on one replica (nginx, the default, balances per request).

    python -m load_harness.localstack.balancer --listen 8080 --upstream 8081 --upstream 8082
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
from collections.abc import Iterator

from load_harness.localstack.layout import LOOPBACK

CONNECT_TIMEOUT_S = 5.0
CHUNK = 64 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()


class RoundRobin:
    def __init__(self, upstreams: list[int]) -> None:
        self._next: Iterator[int] = itertools.cycle(upstreams)
        self.count = len(upstreams)

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        # A replica that refuses (restarting) is skipped; the client only fails when all of them do.
        for _ in range(self.count):
            port = next(self._next)
            try:
                upstream_reader, upstream_writer = await asyncio.wait_for(
                    asyncio.open_connection(LOOPBACK, port), CONNECT_TIMEOUT_S
                )
            except (OSError, TimeoutError):
                continue
            await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
            return
        client_writer.close()


async def serve(listen: int, upstreams: list[int]) -> None:
    server = await asyncio.start_server(RoundRobin(upstreams).handle, LOOPBACK, listen)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--upstream", type=int, action="append", required=True, help="a replica's port (repeat)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.listen, args.upstream))


if __name__ == "__main__":
    main()
